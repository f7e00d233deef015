create or replace function chat_admin.delete_webhook(webhook_id bigint)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
begin
  -- Its deliveries go with it; a job already queued finds nothing to do.
  delete from chat_private.webhooks w where w.webhook_id = delete_webhook.webhook_id;
  if not found then
    raise exception using errcode = 'MCNWH', message = format('no webhook %s', webhook_id);
  end if;
  perform pg_notify('microchatter_webhooks', 'changed');
end
$$;
comment on function chat_admin.delete_webhook(bigint) is
  'Deletes a webhook and its deliveries, pending ones included: nothing more is sent to it. Errors: MCNWH.';
