-- The send rate limit, taken in the sending transaction itself: one statement more on an unlogged
-- table, not a second round trip, and a send that fails for another reason gives its token back by
-- rolling back. The server sets microchatter.send_rate_per_minute on its own connections
-- (MICROCHATTER_SEND_RATE_PER_MINUTE); a psql session without it sends unlimited, as DBAs and batch
-- jobs expect. The hint carries Retry-After for the HTTP layer.
create or replace function chat_private.take_send_token(actor text)
returns void
language plpgsql
volatile
as $$
declare
  v_limit integer := chat_private.setting('send_rate_per_minute', 0);
  v_verdict record;
begin
  if v_limit <= 0 then
    return;
  end if;
  select * into v_verdict from chat_server.take_rate_token('send', actor, v_limit, 60);
  if not v_verdict.taken then
    raise exception using errcode = 'MCRAT', message = 'you are sending too fast',
      hint = format('retry after %s s', v_verdict.retry_after_seconds);
  end if;
end
$$;

-- Locks the send buckets of these senders, in ascending order, creating absent ones full (a bucket
-- refilled by now is a full one), and takes nothing. chat_server.send_messages calls it before it
-- applies a batch: each send then takes its token on a row it holds already, so two batches that share
-- senders queue on the first bucket they share instead of each holding one the other wants (a deadlock).
-- Without a limit in force take_send_token locks nothing, and neither does this.
create or replace function chat_private.lock_send_tokens(actors text[])
returns void
language plpgsql
volatile
as $$
begin
  if chat_private.setting('send_rate_per_minute', 0) <= 0 then
    return;
  end if;
  insert into chat_private.rate_limits as r (bucket, key, refilled_at)
  select 'send', a, clock_timestamp() from (select distinct a from unnest(actors) a where a is not null) x
  order by a collate "C"
  on conflict (bucket, key) do update set refilled_at = r.refilled_at;
end
$$;
