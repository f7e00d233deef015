--! Previous: sha1:829f05dff7066ea148bb5ebf5e2c5299bcf924ff
--! Hash: sha1:30310a1d8e701409b4d2e06db62fe9172450e843
--! Message: chat_private.lock_webhook: one function locks a webhook's row for the job's three calls, raising MCNWH for one deleted

--! Included chat_private/webhooks.sql
-- Webhooks: deliveries taken from the event log, and a graphile-worker job that carries them out
-- (server/jobs/deliver_webhooks.ts). docs/webhooks.md describes the contract.
--
-- The event log is the outbox. A sending transaction writes nothing for webhooks: its events, in the
-- log in commit order under the event lock (chat_private/events.sql), are what its webhooks will be
-- sent, and a rolled-back transaction wrote none. Each webhook keeps how far into the log it has
-- taken (taken_through): every event up to there was delivered or is in chat_private.webhook_deliveries.
-- While a webhook has no pending delivery, its job posts the events after taken_through straight from
-- the log (chat_server.next_webhook_events) and moves taken_through past those that reached the
-- receiver: an event its receiver takes at the first attempt costs no row. At the first failed attempt
-- (and for the direct deliveries below) the events still to post become rows
-- (chat_private.take_webhook_events), which carry attempts, retries and outcome from there, until none
-- is pending. Deliveries were rows written at commit before, under the event lock every sender waits
-- for, then rows written by the job for every event (docs/webhooks.md says what each way cost).
--
-- The servers wake a webhook's job when the log grows (microchatter_events, the relays' channel) and
-- for deliveries written directly (push.needed, message.reported: microchatter_webhooks, naming the
-- webhook); a wake nobody heard (no server running, psql before the first start, a lost connection)
-- is made up for by the sweep, chat_server.kick_webhooks, at start, on every reconnect of the
-- listener and every minute. Jobs carry ids only, so no message body ever sits in graphile-worker's
-- tables.
--
-- One job per webhook (its own graphile-worker queue, so one at a time across all processes) posts its
-- pending deliveries in batches, in order per stream: a conversation ('c:<id>'), a user ('u:<md5 of
-- the id>', for push.needed) or everything else ('e'). A stream whose oldest pending delivery is backing
-- off after a failed attempt is skipped, the others go on. Deliveries are taken in log order, and a
-- direct delivery first takes what the log holds before it, so delivery_id follows commit order.

drop trigger if exists webhook_events on chat_private.events;
drop function if exists chat_private.webhook_events();

-- Does a subscription (the webhook's events) take this event type? '*' takes all, 'message.*' a family.
create or replace function chat_private.webhook_wants(events text[], type text)
returns boolean
language sql
immutable
parallel safe
as $$
  select exists (
    select from unnest(events) e
    where e = '*' or e = type or (e like '%.*' and starts_with(type, left(e, -1)))
  )
$$;

-- The ordering stream of an event: its conversation, else one stream for the rest.
create or replace function chat_private.webhook_stream(payload jsonb)
returns text
language sql
immutable
parallel safe
as $$
  select case when payload ? 'conversation_id' then 'c:' || (payload ->> 'conversation_id') else 'e' end
$$;

-- The webhook's row, locked for the rest of the transaction: the first lock a job's call takes, in the
-- order delete_webhook (and take_webhook_events) lock the webhook and then its deliveries. A webhook
-- deleted meanwhile raises MCNWH: its job must stop posting what it holds (delete_webhook: nothing
-- more is sent to it).
create or replace function chat_private.lock_webhook(webhook_id bigint)
returns chat_private.webhooks
language plpgsql
volatile
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_webhook chat_private.webhooks;
begin
  select * into v_webhook from chat_private.webhooks w where w.webhook_id = lock_webhook.webhook_id
  for update;
  if not found then
    raise exception using errcode = 'MCNWH', message = format('no webhook %s', webhook_id);
  end if;
  return v_webhook;
end
$$;

-- Wakes the job of a webhook. At once (run_at null or past): the one pending job of the webhook's key,
-- which a wake moves to now (job_key_mode replace; a job already running keeps going and the new one
-- waits behind it in the webhook's queue). Later, for a retry: a job of a second key, moved only ever
-- earlier, so that retries neither postpone nor are postponed by the wakes of new deliveries.
create or replace function chat_private.wake_webhook(webhook_id bigint, run_at timestamptz)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_queue text := 'webhook:' || webhook_id;
  v_retry_key text := 'webhook:' || webhook_id || ':retry';
begin
  if to_regnamespace('graphile_worker') is null then
    return; -- the server installs graphile-worker at start and then sweeps (chat_server.kick_webhooks)
  end if;
  if run_at is null or run_at <= now() then
    perform graphile_worker.add_job('deliver_webhooks', json_build_object('webhook_id', webhook_id),
      queue_name => v_queue, max_attempts => 25, job_key => v_queue, job_key_mode => 'replace');
    return;
  end if;
  -- Two failures of one webhook at once must not let the later retry time win.
  perform pg_advisory_xact_lock(hashtext(v_retry_key));
  if not exists (
    select from graphile_worker.jobs j
    where j.key = v_retry_key and j.locked_at is null and j.run_at <= wake_webhook.run_at
  ) then
    perform graphile_worker.add_job('deliver_webhooks', json_build_object('webhook_id', webhook_id),
      queue_name => v_queue, run_at => run_at, max_attempts => 25, job_key => v_retry_key,
      job_key_mode => 'replace');
  end if;
end
$$;

-- Takes the events the log holds after the webhook's taken_through into its deliveries, one per
-- event it wants (but those at skip_positions: posted already from the log), in log order, and moves
-- taken_through past every event read: a page of events a statement, until the log is read to its
-- end, at_most deliveries are written or the page read has read_through in it (null: no bound).
-- Locks the webhook's row, so two callers never take the same event twice. Returns how many events it
-- read and how many deliveries it wrote.
create or replace function chat_private.take_webhook_events(
  webhook_id bigint,
  at_most integer default null,
  skip_positions bigint[] default '{}',
  read_through bigint default null,
  out events_read integer,
  out deliveries_written integer
)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  c_page constant integer := 2000;
  v_webhook chat_private.webhooks;
  v_read integer;
  v_written integer;
  v_through bigint;
begin
  events_read := 0;
  deliveries_written := 0;
  select * into v_webhook from chat_private.webhooks w
  where w.webhook_id = take_webhook_events.webhook_id
  for update;
  if not found then
    return;
  end if;
  loop
    exit when read_through is not null and v_webhook.taken_through >= read_through;
    -- One statement, one snapshot: what is read is what is written and passed. Positions are handed
    -- out under the event lock, held through commit, so no event can still appear below one visible.
    with fresh as materialized (
      select e.position, e.type, e.payload, e.created_at from chat_private.events e
      where e.position > v_webhook.taken_through
      order by e.position
      limit c_page
    ), taken as (
      insert into chat_private.webhook_deliveries
        (webhook_id, stream, event_type, payload, occurred_at, event_position)
      select v_webhook.webhook_id, chat_private.webhook_stream(f.payload), f.type, f.payload, f.created_at,
        f.position
      from fresh f
      where chat_private.webhook_wants(v_webhook.events, f.type) and not f.position = any(skip_positions)
      order by f.position
      returning 1
    )
    select count(*), max(f.position), (select count(*) from taken) into v_read, v_through, v_written
    from fresh f;
    exit when v_read = 0;
    v_webhook.taken_through := v_through;
    events_read := events_read + v_read;
    deliveries_written := deliveries_written + v_written;
    exit when v_read < c_page or (at_most is not null and deliveries_written >= at_most)
      or (read_through is not null and v_through >= read_through);
  end loop;
  if events_read > 0 then
    update chat_private.webhooks w set taken_through = v_webhook.taken_through
    where w.webhook_id = v_webhook.webhook_id;
  end if;
end
$$;

-- Marks delivered the pending rows of events a job posted from the log (their positions, with the
-- receiver's statuses pairwise): rows a direct delivery, or a failure, made of them meanwhile.
create or replace function chat_private.mark_posted_events(webhook_id bigint, positions bigint[], statuses integer[])
returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  update chat_private.webhook_deliveries d
  set status = 'delivered', attempts = d.attempts + 1, response_status = s.response_status,
      last_error = null, last_attempt_at = now(), delivered_at = now(), payload = null
  from unnest(positions, statuses) as s (event_position, response_status)
  where d.webhook_id = mark_posted_events.webhook_id and d.status = 'pending'
    and d.event_position = s.event_position
$$;

-- Writes one delivery of an event that is not in the log (push.needed, message.reported) to every
-- webhook subscribed to its type, after what those webhooks have still to take from the log (so a
-- report comes after the message it reports), and tells the servers which webhooks have new
-- deliveries (PostgreSQL folds a transaction's identical notifications into one).
create or replace function chat_private.enqueue_webhooks(type text, stream text, payload jsonb, occurred_at timestamptz)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_webhook_id bigint;
begin
  for v_webhook_id in
    select w.webhook_id from chat_private.webhooks w
    where chat_private.webhook_wants(w.events, type)
    order by w.webhook_id
  loop
    -- Deleted since the list was read: skipped (its delivery would break the foreign key).
    perform from chat_private.webhooks w where w.webhook_id = v_webhook_id for update;
    continue when not found;
    perform chat_private.take_webhook_events(v_webhook_id);
    insert into chat_private.webhook_deliveries (webhook_id, stream, event_type, payload, occurred_at)
    values (v_webhook_id, stream, type, payload, occurred_at);
    perform pg_notify('microchatter_webhooks', v_webhook_id::text);
  end loop;
end
$$;

-- Whether an address is one a webhook may not target unless microchatter.webhook_allow_private is on:
-- loopback, private, link-local, carrier-grade NAT, unspecified, multicast, broadcast, unique-local.
-- The server checks the addresses a host name resolves to with the same list (server/webhooks/target.ts).
create or replace function chat_private.private_address(address inet)
returns boolean
language sql
immutable
parallel safe
as $$
  select exists (
    select from unnest(array[
      '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
      '192.0.0.0/24', '192.168.0.0/16', '198.18.0.0/15', '224.0.0.0/3',
      '::/127', '::ffff:0:0/96', 'fc00::/7', 'fe80::/10', 'ff00::/8'
    ]::inet[]) r
    where family(r) = family(address) and address <<= r
  )
$$;

-- A webhook URL: http or https, a host, no user name or password, and not a private or loopback
-- address unless allowed (MCURL). Host names are checked again, as resolved, at every delivery.
create or replace function chat_private.checked_webhook_url(url text)
returns text
language plpgsql
stable
as $$
declare
  v_parts text[] := regexp_match(url, '^(https?)://([^/?#]*)([/?#].*)?$', 'i');
  v_host text;
  v_address inet;
begin
  if url is null or length(url) > 2000 or url ~ '[[:space:][:cntrl:]]' or v_parts is null then
    raise exception using errcode = 'MCURL', message = 'a webhook url must be an http or https URL';
  end if;
  if v_parts[2] like '%@%' then
    raise exception using errcode = 'MCURL', message = 'a webhook url must not carry a user name or password';
  end if;
  v_host := lower(regexp_replace(v_parts[2], ':[0-9]*$', ''));
  v_host := trim(both '[]' from v_host);
  if v_host = '' then
    raise exception using errcode = 'MCURL', message = 'a webhook url needs a host';
  end if;
  if coalesce(current_setting('microchatter.webhook_allow_private', true), '') = 'true' then
    return url;
  end if;
  if v_host = 'localhost' or v_host like '%.localhost' or v_host like '%.local' or v_host like '%.internal' then
    raise exception using errcode = 'MCURL', message = format('%s is a private address', v_host);
  end if;
  begin
    v_address := v_host::inet;
  exception when others then
    v_address := null; -- a host name, checked when it is resolved
  end;
  if v_address is not null and chat_private.private_address(v_address) then
    raise exception using errcode = 'MCURL', message = format('%s is a private address', v_host);
  end if;
  return url;
end
$$;

-- A webhook secret in the Standard Webhooks form: whsec_ and 24 to 64 random bytes in base64.
create or replace function chat_private.checked_webhook_secret(secret text)
returns text
language plpgsql
volatile
as $$
declare
  v_bytes bytea;
begin
  if secret is null then
    return 'whsec_' || encode(
      decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'), 'base64');
  end if;
  begin
    v_bytes := decode(substr(secret, 7), 'base64');
  exception when others then
    v_bytes := null;
  end;
  if not starts_with(secret, 'whsec_') or v_bytes is null or length(v_bytes) not between 24 and 64 then
    raise exception using errcode = 'MCARG',
      message = 'secret must be whsec_ followed by 24 to 64 bytes in base64 (or leave it out to get one)';
  end if;
  return secret;
end
$$;
--! EndIncluded chat_private/webhooks.sql
--! Included chat_server/next_webhook_events.sql
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
--! EndIncluded chat_server/next_webhook_events.sql
--! Included chat_server/next_webhook_deliveries.sql
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
--! EndIncluded chat_server/next_webhook_deliveries.sql
--! Included chat_server/webhook_events_to_deliveries.sql
create or replace function chat_server.webhook_events_to_deliveries(
  webhook_id bigint,
  delivered bigint[],
  response_statuses integer[],
  delivered_through bigint,
  failed bigint[]
)
returns table (event_position bigint, delivery_id bigint)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_webhook chat_private.webhooks;
begin
  v_webhook := chat_private.lock_webhook(webhook_events_to_deliveries.webhook_id);
  -- Events a direct delivery took into rows while the job posted them from the log.
  perform chat_private.mark_posted_events(v_webhook.webhook_id, delivered, response_statuses);
  if delivered_through > v_webhook.taken_through then
    update chat_private.webhooks w set taken_through = delivered_through
    where w.webhook_id = v_webhook.webhook_id;
  end if;
  -- The log becomes rows from there, but what reached the receiver already, up to the last event
  -- posted (later events the rows' job takes as it goes, a page at a time).
  perform chat_private.take_webhook_events(v_webhook.webhook_id, null, coalesce(delivered, '{}'),
    coalesce(greatest((select max(p) from unnest(delivered) p), (select max(p) from unnest(failed) p)),
      delivered_through, v_webhook.taken_through));
  return query
  select d.event_position, d.delivery_id from chat_private.webhook_deliveries d
  where d.webhook_id = v_webhook.webhook_id and d.status = 'pending' and d.event_position = any(failed);
end
$$;
comment on function chat_server.webhook_events_to_deliveries(bigint, bigint[], integer[], bigint, bigint[]) is
  'For the deliver_webhooks job when an event it posted from the log got no 2xx (failed), or when it '
  'stops with events posted after one not yet delivered: records what did (as '
  'chat_server.next_webhook_events), takes the events the webhook wants up to the last one posted into '
  'pending deliveries, but those delivered (later ones the job takes as it goes), and returns the '
  'delivery_id of each failed event position, for '
  'chat_server.webhook_attempt_failed. The webhook''s deliveries go on by rows until none is pending. '
  'Errors: MCNWH (the webhook was deleted).';
--! EndIncluded chat_server/webhook_events_to_deliveries.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
