create or replace function chat_server.reset_rate_limit(bucket text, key text)
returns void
language sql
volatile
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
  delete from chat_private.rate_limits r where r.bucket = reset_rate_limit.bucket and r.key = reset_rate_limit.key
$$;
comment on function chat_server.reset_rate_limit(text, text) is
  'Forgets a rate-limit bucket: the key''s next burst is a full one.';
