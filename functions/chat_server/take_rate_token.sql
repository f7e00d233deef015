-- One atomic statement per take, shared by every server process on the database. The state of a
-- bucket is a single time, refilled_at: when it will be full again (the "theoretical arrival time" of
-- the generic cell rate algorithm). Each token pushes it one interval (window / limit) later, and a
-- take is allowed while refilled_at stays within one window of now: a burst of `limit`, then one
-- token per interval, exactly the token bucket the server used to keep in memory.
create or replace function chat_server.take_rate_token(
  bucket text,
  key text,
  "limit" integer,
  window_seconds double precision,
  out taken boolean,
  out retry_after_seconds integer
)
returns record
language plpgsql
volatile
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  -- Not now(): a DBA may call this inside a longer transaction, and concurrent takes must see time pass.
  v_now timestamptz := clock_timestamp();
  v_token interval;
  v_window interval;
  v_refilled_at timestamptz;
begin
  if take_rate_token."limit" < 1 or window_seconds <= 0 then
    raise exception using errcode = 'MCARG', message = 'limit and window_seconds must be positive';
  end if;
  v_token := make_interval(secs => window_seconds / take_rate_token."limit");
  -- Intervals are whole microseconds: allow for the rounding of `limit` tokens in a burst.
  v_window := make_interval(secs => window_seconds) + take_rate_token."limit" * interval '1 microsecond';

  insert into chat_private.rate_limits as r (bucket, key, refilled_at)
  values (take_rate_token.bucket, take_rate_token.key, v_now + v_token)
  on conflict (bucket, key) do update
    set refilled_at = greatest(r.refilled_at, v_now) + v_token
    where greatest(r.refilled_at, v_now) + v_token <= v_now + v_window
  returning true into taken;
  if found then
    retry_after_seconds := 0;
    return;
  end if;

  -- Refused, nothing taken; only the hint below reads the row a second time.
  select r.refilled_at into v_refilled_at from chat_private.rate_limits r
  where r.bucket = take_rate_token.bucket and r.key = take_rate_token.key;
  taken := false;
  retry_after_seconds := greatest(1, ceil(extract(epoch from
    greatest(v_refilled_at, v_now) + v_token - make_interval(secs => window_seconds) - v_now)))::integer;
end
$$;
comment on function chat_server.take_rate_token(text, text, integer, double precision) is
  'Takes one token from the bucket (bucket, key) that holds up to `limit` tokens and refills `limit` per '
  'window_seconds. Returns taken = true, or taken = false and how many seconds until a token is back '
  '(nothing is taken then). Shared by all server processes: the send rate limit and the login-failure '
  'throttle. Errors: MCARG.';
