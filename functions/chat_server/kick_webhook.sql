create or replace function chat_server.kick_webhook(webhook_id bigint, delay_ms integer default 0)
returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  select chat_private.wake_webhook(webhook_id,
    case when delay_ms > 0 then now() + make_interval(secs => delay_ms / 1000.0) end)
$$;
comment on function chat_server.kick_webhook(bigint, integer) is
  'Wakes the deliver_webhooks job of a webhook, now or after delay_ms: the servers call it when '
  'microchatter_webhooks says the webhook has new deliveries, and the job when it hands over on shutdown '
  'or holds back an endpoint that keeps failing.';
