create or replace function chat_admin.create_webhook(url text, events text[], secret text default null)
returns chat_admin.webhook
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_webhook chat_admin.webhook;
begin
  if events is null or cardinality(events) not between 1 and 100 or exists (
    select from unnest(events) e where e is null or e !~ '^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$'
  ) then
    raise exception using errcode = 'MCARG',
      message = 'events must list 1 to 100 event types, such as message.created, message.* or *';
  end if;
  -- It takes the events the log gets from now on.
  insert into chat_private.webhooks (url, events, secret, taken_through, listed_from)
  values (chat_private.checked_webhook_url(create_webhook.url),
          array(select distinct e from unnest(create_webhook.events) e order by e),
          chat_private.checked_webhook_secret(create_webhook.secret),
          coalesce(chat_server.latest_event_position(), 0), coalesce(chat_server.latest_event_position(), 0))
  returning webhook_id, url, events, secret, created_at into v_webhook;
  -- The servers wake a webhook's job as the log grows: they learn of this one.
  perform pg_notify('microchatter_webhooks', 'changed');
  return v_webhook;
end
$$;
comment on function chat_admin.create_webhook(text, text[], text) is
  'Subscribes a URL to events: every event type of the event log (message.created, message.updated, '
  'message.deleted, conversation.*, …) plus push.needed and message.reported; message.* takes a family, '
  '* takes all. Each event is POSTed as {type, timestamp, data} with Standard Webhooks headers '
  '(webhook-id, webhook-timestamp, webhook-signature) signed with secret (whsec_ and base64; one is '
  'generated when none is given). url: http or https, without credentials, and not a private or loopback '
  'address unless microchatter.webhook_allow_private is on (MICROCHATTER_WEBHOOK_ALLOW_PRIVATE). Only '
  'events after this call are sent. Errors: MCURL, MCARG.';
