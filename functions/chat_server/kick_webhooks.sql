create or replace function chat_server.kick_webhooks()
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_webhook_id bigint;
  v_count integer := 0;
begin
  for v_webhook_id in
    select w.webhook_id from chat_private.webhooks w
    where exists (select from chat_private.events e where e.position > w.taken_through)
       or exists (select from chat_private.webhook_deliveries d
                  where d.webhook_id = w.webhook_id and d.status = 'pending' and d.next_attempt_at <= now())
  loop
    perform chat_private.wake_webhook(v_webhook_id, null);
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$$;
comment on function chat_server.kick_webhooks() is
  'Wakes the job of every webhook with events of the log still to take or a due pending delivery: the '
  'backstop for a wake no server heard (none running, psql before the first server start, a lost '
  'connection) or a job that was lost. Run by the servers at start, when their listener (re)connects '
  'and every minute. Returns the number of webhooks woken.';
