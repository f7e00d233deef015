--! Previous: sha1:b208930aad73210f6f165ed102799da10c831acc
--! Hash: sha1:30092b9e119a728ff61ed558e81b531461f5dc9e
--! Message: Webhooks take their deliveries from the event log: a sending transaction writes nothing for webhooks

-- Webhooks take their deliveries from the event log: a sending transaction writes nothing for
-- webhooks (no delivery rows, no NOTIFY under the event lock); each webhook's job takes the events
-- after its taken_through into its deliveries (docs/webhooks.md).
alter table chat_private.webhooks add column if not exists taken_through bigint;
-- The webhooks of before have their deliveries up to now already, written by the trigger this drops.
update chat_private.webhooks set taken_through = coalesce(chat_server.latest_event_position(), 0)
where taken_through is null;
alter table chat_private.webhooks alter column taken_through set not null;

--! Included chat_private/webhooks.sql
-- Webhooks: deliveries taken from the event log, and a graphile-worker job that carries them out
-- (server/jobs/deliver_webhooks.ts). docs/webhooks.md describes the contract.
--
-- The event log is the outbox. A sending transaction writes nothing for webhooks: its events, in the
-- log in commit order under the event lock (chat_private/events.sql), are what its webhooks will be
-- sent, and a rolled-back transaction wrote none. Each webhook keeps how far into the log it has
-- taken (taken_through); its job takes what follows (chat_private.take_webhook_events), outside any
-- sending transaction, into chat_private.webhook_deliveries, one row per wanted event, and the rows
-- carry attempts, retries and outcome from there. Those rows were written at commit before, under
-- the event lock every sender waits for (docs/webhooks.md says what each way cost).
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
-- event it wants, in log order, and moves taken_through past every event read: a page of events a
-- statement, until the log is read to its end or at_most deliveries are written (null: no bound).
-- Locks the webhook's row, so two callers never take the same event twice. Returns how many events
-- it read and how many deliveries it wrote.
create or replace function chat_private.take_webhook_events(
  webhook_id bigint,
  at_most integer default null,
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
    -- One statement, one snapshot: what is read is what is written and passed. Positions are handed
    -- out under the event lock, held through commit, so no event can still appear below one visible.
    with fresh as materialized (
      select e.position, e.type, e.payload, e.created_at from chat_private.events e
      where e.position > v_webhook.taken_through
      order by e.position
      limit c_page
    ), taken as (
      insert into chat_private.webhook_deliveries (webhook_id, stream, event_type, payload, occurred_at)
      select v_webhook.webhook_id, chat_private.webhook_stream(f.payload), f.type, f.payload, f.created_at
      from fresh f
      where chat_private.webhook_wants(v_webhook.events, f.type)
      order by f.position
      returning 1
    )
    select count(*), max(f.position), (select count(*) from taken) into v_read, v_through, v_written
    from fresh f;
    exit when v_read = 0;
    v_webhook.taken_through := v_through;
    events_read := events_read + v_read;
    deliveries_written := deliveries_written + v_written;
    exit when v_read < c_page or (at_most is not null and deliveries_written >= at_most);
  end loop;
  if events_read > 0 then
    update chat_private.webhooks w set taken_through = v_webhook.taken_through
    where w.webhook_id = v_webhook.webhook_id;
  end if;
end
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
--! Included chat_server/next_webhook_deliveries.sql
create or replace function chat_server.next_webhook_deliveries(
  webhook_id bigint,
  delivered bigint[],
  response_statuses integer[],
  busy_streams text[],
  max_count integer
)
returns table (
  delivery_id bigint,
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
  -- The payload is not kept once it reached the receiver: fewer copies of message bodies to erase.
  update chat_private.webhook_deliveries d
  set status = 'delivered', attempts = d.attempts + 1, response_status = s.response_status,
      last_error = null, last_attempt_at = now(), delivered_at = now(), payload = null
  from unnest(delivered, response_statuses) as s (delivery_id, response_status)
  where d.delivery_id = s.delivery_id and d.status = 'pending';
  if max_count <= 0 then
    return;
  end if;
  -- New events of the log first, a batch's worth at most.
  perform chat_private.take_webhook_events(webhook_id, max_count);
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
  select d.delivery_id, d.stream, w.url, w.secret, d.event_type, d.payload::text, d.occurred_at, d.attempts
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
comment on function chat_server.next_webhook_deliveries(bigint, bigint[], integer[], text[], integer) is
  'For the deliver_webhooks job: marks the deliveries it posted (delivered, with the receiver''s 2xx '
  'status, pairwise), takes the webhook''s new events from the log into deliveries, then returns up '
  'to max_count due pending deliveries of the webhook, oldest first, leaving out streams whose oldest '
  'delivery is backing off after a failed attempt and busy_streams (those the job still has in '
  'flight); commit order within each stream. When only backing-off streams are left, the webhook''s '
  'job is queued for the first of their retries.';
--! EndIncluded chat_server/next_webhook_deliveries.sql
--! Included chat_server/kick_webhooks.sql
create or replace function chat_server.kick_webhooks()
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_webhook_id bigint;
  v_count integer := 0;
begin
  for v_webhook_id in
    select w.webhook_id from chat_private.webhooks w
    where exists (select from chat_private.events e where e.position > w.taken_through)
       or exists (select from chat_private.webhook_deliveries d
                  where d.webhook_id = w.webhook_id and d.status = 'pending' and d.next_attempt_at <= now())
  loop
    perform chat_private.wake_webhook(v_webhook_id, null);
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$$;
comment on function chat_server.kick_webhooks() is
  'Wakes the job of every webhook with events of the log still to take or a due pending delivery: the '
  'backstop for a wake no server heard (none running, psql before the first server start, a lost '
  'connection) or a job that was lost. Run by the servers at start, when their listener (re)connects '
  'and every minute. Returns the number of webhooks woken.';
--! EndIncluded chat_server/kick_webhooks.sql
--! Included chat_server/webhook_ids.sql
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
--! EndIncluded chat_server/webhook_ids.sql
--! Included chat_server/prune_events.sql
create or replace function chat_server.prune_events(retention interval default '30 days')
returns bigint
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_cut bigint;
  v_deleted bigint := 0;
begin
  -- The log is cut at one position, the first event young enough to keep, so "older than the
  -- retained events" is one comparison. (Positions follow commit order, times start order: an old
  -- event just after the cut waits for the next pruning.)
  select coalesce(
    (select e.position from chat_private.events e where e.created_at >= now() - retention order by e.position limit 1),
    (select max(e.position) + 1 from chat_private.events e)
  ) into v_cut;
  -- Nor past what a webhook has still to take: the log is its outbox.
  v_cut := least(v_cut, (select min(w.taken_through) + 1 from chat_private.webhooks w));
  if v_cut is not null then
    delete from chat_private.events e where e.position < v_cut;
    get diagnostics v_deleted = row_count;
    update chat_private.event_log l set pruned_through = v_cut - 1 where l.pruned_through < v_cut - 1;
  end if;
  -- Deliveries that reached their receiver (they keep no payload) or failed for good, kept as long as
  -- the events for list_webhook_deliveries.
  delete from chat_private.webhook_deliveries d
  where d.status <> 'pending' and coalesce(d.delivered_at, d.last_attempt_at, d.occurred_at) < now() - retention;
  delete from chat_private.stream_tickets t where t.expires_at < now();
  -- A bucket that has refilled is the same as no bucket.
  delete from chat_private.rate_limits r where r.refilled_at < now();
  return v_deleted;
end
$$;
comment on function chat_server.prune_events(interval) is
  'Deletes events older than the retention (default 30 days) that every webhook has taken, webhook '
  'deliveries delivered or failed before it, expired stream tickets and refilled rate-limit buckets; returns how many events went. A '
  'client whose cursor is older gets a reset. The server calls it hourly.';
--! EndIncluded chat_server/prune_events.sql
--! Included chat_admin/create_webhook.sql
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
  insert into chat_private.webhooks (url, events, secret, taken_through)
  values (chat_private.checked_webhook_url(create_webhook.url),
          array(select distinct e from unnest(create_webhook.events) e order by e),
          chat_private.checked_webhook_secret(create_webhook.secret),
          coalesce(chat_server.latest_event_position(), 0))
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
--! EndIncluded chat_admin/create_webhook.sql
--! Included chat_admin/delete_webhook.sql
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
--! EndIncluded chat_admin/delete_webhook.sql
--! Included chat_admin/list_webhooks.sql
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
--! EndIncluded chat_admin/list_webhooks.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
