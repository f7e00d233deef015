create or replace function chat_server.webhook_ids()
returns setof bigint
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select w.webhook_id from chat_private.webhooks w order by w.webhook_id
$$;
comment on function chat_server.webhook_ids() is
  'The webhooks there are: a server wakes their jobs when the event log grows. It reads them again '
  'when microchatter_webhooks says ''changed'' (create_webhook, delete_webhook) and when its listener '
  '(re)connects.';
