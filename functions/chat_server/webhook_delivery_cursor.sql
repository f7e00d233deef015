create or replace function chat_server.webhook_delivery_cursor(webhook_id bigint)
returns bigint
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select case
    when exists (
      select from chat_private.webhook_deliveries d
      where d.webhook_id = webhook_delivery_cursor.webhook_id and d.status = 'pending' and d.attempts > 0
    ) then null
    else coalesce(
      (select max(d.delivery_id) from chat_private.webhook_deliveries d
       where d.webhook_id = webhook_delivery_cursor.webhook_id),
      0)
  end
$$;
comment on function chat_server.webhook_delivery_cursor(bigint) is
  'For the deliver_webhooks job, with nothing in flight: the newest delivery_id of the webhook, or null '
  'while one of its pending deliveries has failed an attempt. A job that then fetches every pending '
  'delivery (next_webhook_deliveries without after_id, none left out) holds all of them up to it, and '
  'fetches from there on by after_id alone.';
