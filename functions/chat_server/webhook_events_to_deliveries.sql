create or replace function chat_server.webhook_events_to_deliveries(
  webhook_id bigint,
  delivered bigint[],
  response_statuses integer[],
  delivered_through bigint,
  failed bigint[]
)
returns table (event_position bigint, delivery_id bigint)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_webhook chat_private.webhooks;
begin
  select * into v_webhook from chat_private.webhooks w
  where w.webhook_id = webhook_events_to_deliveries.webhook_id
  for update;
  if not found then
    return;
  end if;
  -- Events a direct delivery took into rows while the job posted them from the log.
  perform chat_private.mark_posted_events(v_webhook.webhook_id, delivered, response_statuses);
  if delivered_through > v_webhook.taken_through then
    update chat_private.webhooks w set taken_through = delivered_through
    where w.webhook_id = v_webhook.webhook_id;
  end if;
  -- The rest of the log becomes rows, but what reached the receiver already.
  perform chat_private.take_webhook_events(v_webhook.webhook_id, null, coalesce(delivered, '{}'));
  return query
  select d.event_position, d.delivery_id from chat_private.webhook_deliveries d
  where d.webhook_id = v_webhook.webhook_id and d.status = 'pending' and d.event_position = any(failed);
end
$$;
comment on function chat_server.webhook_events_to_deliveries(bigint, bigint[], integer[], bigint, bigint[]) is
  'For the deliver_webhooks job when an event it posted from the log got no 2xx: records what did '
  '(as chat_server.next_webhook_events), takes every later event the webhook wants into pending '
  'deliveries, but those delivered, and returns the delivery_id of each failed event position, for '
  'chat_server.webhook_attempt_failed. The webhook''s deliveries go on by rows until none is pending.';
