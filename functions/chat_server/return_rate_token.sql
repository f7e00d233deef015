create or replace function chat_server.return_rate_token(bucket text, key text, "limit" integer, window_seconds double precision)
returns void
language sql
volatile
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
  update chat_private.rate_limits r
  set refilled_at = r.refilled_at - make_interval(secs => window_seconds / greatest("limit", 1))
  where r.bucket = return_rate_token.bucket and r.key = return_rate_token.key and r.refilled_at > clock_timestamp()
$$;
comment on function chat_server.return_rate_token(text, text, integer, double precision) is
  'Gives back a token taken with take_rate_token (same bucket, key, limit and window) for an attempt '
  'that turned out not to count, e.g. a successful login. A full bucket stays full.';
