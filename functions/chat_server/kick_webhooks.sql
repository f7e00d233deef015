create or replace function chat_server.kick_webhooks()
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_stream record;
  v_count integer := 0;
begin
  for v_stream in
    select distinct d.webhook_id, d.stream from chat_private.webhook_deliveries d
    where d.status = 'pending' and d.next_attempt_at <= now()
  loop
    perform chat_private.wake_webhook_stream(v_stream.webhook_id, v_stream.stream, null);
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$$;
comment on function chat_server.kick_webhooks() is
  'Wakes every webhook stream with a due pending delivery: the backstop for deliveries written before '
  'graphile-worker was installed (psql before the first server start) or whose job was lost. Run at '
  'start and every minute by the server. Returns the number of streams woken.';
