create or replace function chat_server.next_webhook_delivery(webhook_id bigint, stream text)
returns table (
  delivery_id bigint,
  url text,
  secret text,
  event_type text,
  payload jsonb,
  occurred_at timestamptz,
  attempts integer
)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_delivery chat_private.webhook_deliveries;
begin
  select * into v_delivery from chat_private.webhook_deliveries d
  where d.webhook_id = next_webhook_delivery.webhook_id and d.stream = next_webhook_delivery.stream
    and d.status = 'pending'
  order by d.delivery_id
  limit 1;
  if not found then
    return;
  end if;
  -- Woken early (a sweep, a new delivery behind one that is backing off): come back when it is due.
  if v_delivery.next_attempt_at > now() then
    perform chat_private.wake_webhook_stream(v_delivery.webhook_id, v_delivery.stream, v_delivery.next_attempt_at);
    return;
  end if;
  return query
  select v_delivery.delivery_id, w.url, w.secret, v_delivery.event_type, v_delivery.payload,
    v_delivery.occurred_at, v_delivery.attempts
  from chat_private.webhooks w where w.webhook_id = v_delivery.webhook_id;
end
$$;
comment on function chat_server.next_webhook_delivery(bigint, text) is
  'For the deliver_webhooks job: the oldest pending delivery of a webhook''s stream if it is due. When it '
  'is backing off, the stream''s job is queued again for its next attempt and nothing is returned.';
