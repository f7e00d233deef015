create or replace function chat_server.next_webhook_events(
  webhook_id bigint,
  delivered bigint[],
  response_statuses integer[],
  delivered_through bigint,
  after_position bigint,
  max_count integer
)
returns table (
  event_position bigint,
  stream text,
  url text,
  secret text,
  event_type text,
  payload text,
  occurred_at timestamptz,
  read_through bigint,
  rows_pending boolean
)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_webhook chat_private.webhooks;
  v_from bigint;
  v_pending boolean;
begin
  v_webhook := chat_private.lock_webhook(next_webhook_events.webhook_id);
  v_pending := exists (
    select from chat_private.webhook_deliveries d
    where d.webhook_id = next_webhook_events.webhook_id and d.status = 'pending'
  );
  if v_pending and cardinality(delivered) > 0 then
    -- A direct delivery took these events into rows while the job posted them from the log.
    perform chat_private.mark_posted_events(next_webhook_events.webhook_id, delivered, response_statuses);
    v_pending := exists (
      select from chat_private.webhook_deliveries d
      where d.webhook_id = next_webhook_events.webhook_id and d.status = 'pending'
    );
  end if;
  if delivered_through > v_webhook.taken_through then
    update chat_private.webhooks w set taken_through = delivered_through
    where w.webhook_id = v_webhook.webhook_id;
    v_webhook.taken_through := delivered_through;
  end if;
  if v_pending then
    -- Rows go first (chat_server.next_webhook_deliveries), in their order.
    return query select null::bigint, null::text, null::text, null::text, null::text, null::text,
      null::timestamptz, null::bigint, true;
    return;
  end if;
  if max_count <= 0 then
    return;
  end if;
  v_from := greatest(after_position, v_webhook.taken_through);
  -- One statement, one snapshot: read_through covers exactly the events read (chat_private.take_webhook_events
  -- says why none can appear below one visible). A page without a wanted event still moves the job on,
  -- as one row of nulls but read_through.
  return query
  with fresh as materialized (
    select e.position, e.type, e.payload, e.created_at from chat_private.events e
    where e.position > v_from
    order by e.position
    limit max_count
  ), edge as (
    select max(f.position) as through from fresh f
  ), wanted as materialized (
    select f.* from fresh f where chat_private.webhook_wants(v_webhook.events, f.type)
  )
  select w.position, chat_private.webhook_stream(w.payload), v_webhook.url, v_webhook.secret, w.type,
    w.payload::text, w.created_at, edge.through, false
  from wanted w cross join edge
  union all
  select null, null, null, null, null, null, null, edge.through, false
  from edge
  where edge.through is not null and not exists (select from wanted)
  order by 1;
end
$$;
comment on function chat_server.next_webhook_events(bigint, bigint[], integer[], bigint, bigint, integer) is
  'For the deliver_webhooks job while the webhook has no pending delivery: records what it posted from '
  'the log (delivered: the event positions that got a 2xx, response_statuses pairwise; delivered_through: '
  'every event up to it reached the receiver or is not wanted, and becomes the webhook''s taken_through), '
  'then returns the events after after_position (or taken_through) the webhook wants, oldest first, '
  'reading up to max_count events; read_through on every row is the last event read, and a page with '
  'nothing wanted is one row of nulls but read_through. While the webhook has pending deliveries, one row '
  'with rows_pending true and nothing else: they go first, by chat_server.next_webhook_deliveries. '
  'Errors: MCNWH (the webhook was deleted: the job stops).';
