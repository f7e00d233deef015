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
  v_webhook := chat_private.lock_webhook(webhook_events_to_deliveries.webhook_id);
  -- Events a direct delivery took into rows while the job posted them from the log.
  perform chat_private.mark_posted_events(v_webhook.webhook_id, delivered, response_statuses);
  if delivered_through > v_webhook.taken_through then
    update chat_private.webhooks w set taken_through = delivered_through
    where w.webhook_id = v_webhook.webhook_id;
  end if;
  -- The log becomes rows from there, but what reached the receiver already, up to the last event
  -- posted (later events the rows' job takes as it goes, a page at a time).
  perform chat_private.take_webhook_events(v_webhook.webhook_id, null, coalesce(delivered, '{}'),
    coalesce(greatest((select max(p) from unnest(delivered) p), (select max(p) from unnest(failed) p)),
      delivered_through, v_webhook.taken_through));
  return query
  select d.event_position, d.delivery_id from chat_private.webhook_deliveries d
  where d.webhook_id = v_webhook.webhook_id and d.status = 'pending' and d.event_position = any(failed);
end
$$;
comment on function chat_server.webhook_events_to_deliveries(bigint, bigint[], integer[], bigint, bigint[]) is
  'For the deliver_webhooks job when an event it posted from the log got no 2xx (failed), or when it '
  'stops with events posted after one not yet delivered: records what did (as '
  'chat_server.next_webhook_events), takes the events the webhook wants up to the last one posted into '
  'pending deliveries, but those delivered (later ones the job takes as it goes), and returns the '
  'delivery_id of each failed event position, for '
  'chat_server.webhook_attempt_failed. The webhook''s deliveries go on by rows until none is pending. '
  'Errors: MCNWH (the webhook was deleted).';
