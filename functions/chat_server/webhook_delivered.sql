create or replace function chat_server.webhook_delivered(delivery_id bigint, response_status integer)
returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  -- The payload is not kept once it reached the receiver: fewer copies of message bodies to erase.
  update chat_private.webhook_deliveries d
  set status = 'delivered', attempts = d.attempts + 1, response_status = webhook_delivered.response_status,
      last_error = null, last_attempt_at = now(), delivered_at = now(), payload = null
  where d.delivery_id = webhook_delivered.delivery_id and d.status = 'pending'
$$;
comment on function chat_server.webhook_delivered(bigint, integer) is
  'For the deliver_webhooks job: the receiver answered 2xx.';
