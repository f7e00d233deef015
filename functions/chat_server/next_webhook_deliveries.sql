create or replace function chat_server.next_webhook_deliveries(
  webhook_id bigint,
  delivered bigint[],
  response_statuses integer[],
  busy_streams text[],
  max_count integer,
  after_id bigint default null
)
returns table (
  delivery_id bigint,
  event_position bigint,
  stream text,
  url text,
  secret text,
  event_type text,
  payload text,
  occurred_at timestamptz,
  attempts integer
)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_head record;
  v_due text[] := '{}';
  v_retry_at timestamptz;
begin
  -- The webhook's row first, then its deliveries: marking the deliveries first deadlocked with a
  -- delete_webhook of the same webhook.
  perform chat_private.lock_webhook(next_webhook_deliveries.webhook_id);
  -- The payload is not kept once it reached the receiver: fewer copies of message bodies to erase.
  update chat_private.webhook_deliveries d
  set status = 'delivered', attempts = d.attempts + 1, response_status = s.response_status,
      last_error = null, last_attempt_at = now(), delivered_at = now(), payload = null
  from unnest(delivered, response_statuses) as s (delivery_id, response_status)
  where d.delivery_id = s.delivery_id and d.status = 'pending';
  if max_count <= 0 then
    return;
  end if;
  -- Nothing pending: the job goes on from the log (chat_server.next_webhook_events), which costs no rows.
  if not exists (
    select from chat_private.webhook_deliveries d
    where d.webhook_id = next_webhook_deliveries.webhook_id and d.status = 'pending'
  ) then
    return;
  end if;
  -- New events of the log first, a batch's worth at most: behind a stream that backs off, its later
  -- events wait as rows.
  perform chat_private.take_webhook_events(webhook_id, max_count);
  if after_id is not null then
    -- The job holds every pending delivery up to after_id (chat_server.webhook_delivery_cursor): only
    -- those after it are new, read from webhook_deliveries_webhook_idx from after_id on. The heads
    -- below would walk every entry the partial index still holds for deliveries made since the last
    -- vacuum, a cost that grew with each delivery (1.8 to 19 ms a call over 6,000 of them).
    -- "status || ''" keeps the planner off the partial index, where after_id bounds nothing.
    return query
    select d.delivery_id, d.event_position, d.stream, w.url, w.secret, d.event_type, d.payload::text, d.occurred_at, d.attempts
    from chat_private.webhook_deliveries d
    join chat_private.webhooks w on w.webhook_id = d.webhook_id
    where d.webhook_id = next_webhook_deliveries.webhook_id and d.delivery_id > after_id
      and d.status || '' = 'pending'
    order by d.delivery_id
    limit max_count;
    return;
  end if;
  -- The oldest pending delivery of each stream, one probe of webhook_deliveries_pending_idx per stream
  -- (a skip scan), so the backlog of a stream that backs off is never read. A head that failed an
  -- attempt waits for its next_attempt_at, and the rest of its stream with it.
  for v_head in
    with recursive heads as (
      (select d.stream, d.next_attempt_at from chat_private.webhook_deliveries d
       where d.webhook_id = next_webhook_deliveries.webhook_id and d.status = 'pending'
       order by d.stream, d.delivery_id
       limit 1)
      union all
      select n.stream, n.next_attempt_at from heads h
      cross join lateral (
        select d.stream, d.next_attempt_at from chat_private.webhook_deliveries d
        where d.webhook_id = next_webhook_deliveries.webhook_id and d.status = 'pending' and d.stream > h.stream
        order by d.stream, d.delivery_id
        limit 1
      ) n
    )
    select h.stream, h.next_attempt_at from heads h
  loop
    if v_head.next_attempt_at > now() then
      v_retry_at := least(v_retry_at, v_head.next_attempt_at);
    elsif not v_head.stream = any(coalesce(busy_streams, '{}')) then
      v_due := v_due || v_head.stream;
    end if;
  end loop;
  if v_retry_at is not null and cardinality(v_due) = 0 then
    -- Nothing to do now: the job comes back for the first retry (a retry job may be there already).
    perform chat_private.wake_webhook(webhook_id, v_retry_at);
  end if;
  return query
  select d.delivery_id, d.event_position, d.stream, w.url, w.secret, d.event_type, d.payload::text, d.occurred_at, d.attempts
  from unnest(v_due) as s (stream)
  cross join lateral (
    select * from chat_private.webhook_deliveries d
    where d.webhook_id = next_webhook_deliveries.webhook_id and d.status = 'pending' and d.stream = s.stream
    order by d.delivery_id
    limit least(max_count, 100)
  ) d
  join chat_private.webhooks w on w.webhook_id = d.webhook_id
  order by d.delivery_id
  limit max_count;
end
$$;
comment on function chat_server.next_webhook_deliveries(bigint, bigint[], integer[], text[], integer, bigint) is
  'For the deliver_webhooks job: marks the deliveries it posted (delivered, with the receiver''s 2xx '
  'status, pairwise); then, while any delivery of the webhook is pending, takes the webhook''s new '
  'events from the log into deliveries and returns up '
  'to max_count due pending deliveries of the webhook, oldest first, leaving out streams whose oldest '
  'delivery is backing off after a failed attempt and busy_streams (those the job still has in '
  'flight); commit order within each stream. When only backing-off streams are left, the webhook''s '
  'job is queued for the first of their retries. With after_id (a cursor the job got from '
  'chat_server.webhook_delivery_cursor and moved past what it fetched since), returns instead the '
  'pending deliveries after after_id, oldest first, busy streams included. Errors: MCNWH (the '
  'webhook was deleted: the job stops).';
