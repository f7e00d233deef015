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
  select l.delivery_id, l.webhook_message_id, l.event_type, l.status, l.attempts, l.response_status,
    l.last_error, l.occurred_at, l.last_attempt_at, l.next_attempt_at, l.delivered_at, l.data
  from (
    select * from (
      select d.delivery_id,
        case when d.event_position is null then 'msg_' || d.delivery_id else 'evt_' || d.event_position end,
        d.event_type, d.status, d.attempts, d.response_status, d.last_error, d.occurred_at, d.last_attempt_at,
        case when d.status = 'pending' then d.next_attempt_at end, d.delivered_at, d.payload, d.event_position
      from chat_private.webhook_deliveries d
      where d.webhook_id = list_webhook_deliveries.webhook_id
        and (not coalesce(failed_only, false) or d.status = 'failed')
      order by d.delivery_id desc
      limit "limit"
    ) recorded
    union all
    -- Events posted from the log that reached the receiver at the first attempt leave no row: they are
    -- the events the webhook wants up to its taken_through that have none, among the newest 10,000.
    select * from (
      select null::bigint, 'evt_' || e.position, e.type, 'delivered'::text, 1, null::integer, null::text,
        e.created_at, null::timestamptz, null::timestamptz, null::timestamptz, null::jsonb, e.position
      from chat_private.webhooks w
      cross join lateral (
        select * from chat_private.events e
        where e.position <= w.taken_through and e.position > coalesce(w.listed_from, w.taken_through)
        order by e.position desc
        limit 10000
      ) e
      where w.webhook_id = list_webhook_deliveries.webhook_id and not coalesce(failed_only, false)
        and chat_private.webhook_wants(w.events, e.type)
        and not exists (
          select from chat_private.webhook_deliveries d
          where d.webhook_id = w.webhook_id and d.event_position = e.position
        )
      order by e.position desc
      limit "limit"
    ) posted
  ) l (delivery_id, webhook_message_id, event_type, status, attempts, response_status, last_error,
       occurred_at, last_attempt_at, next_attempt_at, delivered_at, data, event_position)
  order by l.occurred_at desc, l.event_position desc nulls last, l.delivery_id desc
  limit "limit";
end
$$;
comment on function chat_admin.list_webhook_deliveries(bigint, boolean, integer) is
  'A webhook''s deliveries, newest first (by occurred_at): status pending (being tried, with '
  'next_attempt_at), delivered or failed (no 2xx answer within the retry window, '
  'MICROCHATTER_WEBHOOK_RETRY_HOURS), with the number of attempts, the last HTTP status or error, and '
  'webhook_message_id, the webhook-id header the receiver saw. data is the event''s JSON while it is not '
  'delivered yet (it is dropped once delivered). An event that reached the receiver at the first attempt '
  'keeps no record (docs/webhooks.md): it is listed from the log, among its newest 10,000 events, as '
  'delivered with attempts 1 and no delivery_id, response_status or times but occurred_at. '
  'failed_only: only the failed ones. limit: 1 to 200. Errors: MCNWH, MCLIM.';
