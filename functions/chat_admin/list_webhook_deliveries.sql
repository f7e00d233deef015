create or replace function chat_admin.list_webhook_deliveries(
  webhook_id bigint,
  failed_only boolean default false,
  "limit" integer default 50
)
returns table (
  delivery_id bigint,
  webhook_message_id text,
  event_type text,
  status text,
  attempts integer,
  response_status integer,
  last_error text,
  occurred_at timestamptz,
  last_attempt_at timestamptz,
  next_attempt_at timestamptz,
  delivered_at timestamptz,
  data jsonb
)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
begin
  if not exists (select from chat_private.webhooks w where w.webhook_id = list_webhook_deliveries.webhook_id) then
    raise exception using errcode = 'MCNWH', message = format('no webhook %s', webhook_id);
  end if;
  if "limit" is null or "limit" not between 1 and 200 then
    raise exception using errcode = 'MCLIM', message = 'limit must be between 1 and 200';
  end if;
  return query
  select d.delivery_id, 'msg_' || d.delivery_id, d.event_type, d.status, d.attempts, d.response_status,
    d.last_error, d.occurred_at, d.last_attempt_at,
    case when d.status = 'pending' then d.next_attempt_at end, d.delivered_at, d.payload
  from chat_private.webhook_deliveries d
  where d.webhook_id = list_webhook_deliveries.webhook_id
    and (not coalesce(failed_only, false) or d.status = 'failed')
  order by d.delivery_id desc
  limit "limit";
end
$$;
comment on function chat_admin.list_webhook_deliveries(bigint, boolean, integer) is
  'A webhook''s deliveries, newest first: status pending (being tried, with next_attempt_at), delivered '
  'or failed (no 2xx answer within the retry window, MICROCHATTER_WEBHOOK_RETRY_HOURS), with the number '
  'of attempts, the last HTTP status or error, and webhook_message_id, the webhook-id header the receiver '
  'saw. data is the event''s JSON while it is not delivered yet (it is dropped once delivered). '
  'failed_only: only the failed ones. limit: 1 to 200. Errors: MCNWH, MCLIM.';
