create or replace function chat_admin.list_webhooks()
returns table (webhook_id bigint, url text, events text[], created_at timestamptz, pending bigint, failed bigint)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select w.webhook_id, w.url, w.events, w.created_at,
    (select count(*) from chat_private.webhook_deliveries d where d.webhook_id = w.webhook_id and d.status = 'pending')
      + (select count(*) from chat_private.events e
         where e.position > w.taken_through and chat_private.webhook_wants(w.events, e.type)),
    (select count(*) from chat_private.webhook_deliveries d where d.webhook_id = w.webhook_id and d.status = 'failed')
  from chat_private.webhooks w
  order by w.webhook_id
$$;
comment on function chat_admin.list_webhooks() is
  'The webhooks, oldest first, with how many deliveries are pending (events of the log its job has '
  'not taken yet included) and how many failed for good. '
  'Secrets are shown only by create_webhook.';
