--! Previous: sha1:572c3b8b55ce388922c5032f027573a0da5068bf
--! Hash: sha1:3753f1c24a27f0f410ffde796384f050c53889ef
--! Message: Webhooks batched per endpoint: the sending transaction writes the delivery rows and a NOTIFY only, one job per webhook posts its deliveries in batches

-- Webhooks batched per endpoint: the sending transaction writes only the delivery rows (one insert per
-- statement of the event log) and a NOTIFY, no graphile_worker.add_job per event; one job per webhook
-- posts its pending deliveries in batches, in order per stream (docs/webhooks.md).
--! Included chat_private/webhooks.sql
-- Webhooks: an outbox of deliveries written in the transaction of the change, and a graphile-worker
-- job that carries them out (server/jobs/deliver_webhooks.ts). docs/webhooks.md describes the contract.
--
-- The delivery row is the truth, the job only a wake-up. The sending transaction writes the row and a
-- NOTIFY on microchatter_webhooks naming the webhook, nothing else: the event triggers run this at
-- commit under the event lock (chat_private/events.sql), which every sending transaction waits for, so
-- it must stay that cheap (a graphile_worker.add_job per event there cost a send ~40 % of its rate).
-- Every server process listens and wakes the webhook's job (chat_server.kick_webhook); a notification
-- missed (no server running, psql before the first start, a lost connection) is made up for by the
-- sweep, chat_server.kick_webhooks, at start, on every reconnect of the listener and every minute. Jobs
-- carry ids only, so no message body ever sits in graphile-worker's tables.
--
-- One job per webhook (its own graphile-worker queue, so one at a time across all processes) posts its
-- pending deliveries in batches, in order per stream: a conversation ('c:<id>'), a user ('u:<md5 of
-- the id>', for push.needed) or everything else ('e'). A stream whose oldest pending delivery is backing
-- off after a failed attempt is skipped, the others go on. The event triggers write deliveries at
-- commit, under the event lock, so delivery_id follows commit order as event positions do.

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

-- Writes one delivery per webhook subscribed to the event type, and tells the servers which webhooks
-- have new deliveries (PostgreSQL folds a transaction's identical notifications into one).
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
    insert into chat_private.webhook_deliveries (webhook_id, stream, event_type, payload, occurred_at)
    select w.webhook_id, stream, type, payload, occurred_at
    from chat_private.webhooks w
    where chat_private.webhook_wants(w.events, type)
    returning webhook_id
  loop
    perform pg_notify('microchatter_webhooks', v_webhook_id::text);
  end loop;
end
$$;

-- Every event of the log reaches the webhooks subscribed to it, from the transaction that wrote it:
-- once per statement (the events of a transaction are moved into the log in one), one insert for all
-- of its events, in log order, and one notification per webhook.
create or replace function chat_private.webhook_events()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_webhook_id bigint;
begin
  if not exists (select from chat_private.webhooks) then
    return null;
  end if;
  for v_webhook_id in
    with written as (
      insert into chat_private.webhook_deliveries (webhook_id, stream, event_type, payload, occurred_at)
      select w.webhook_id, chat_private.webhook_stream(e.payload), e.type, e.payload, e.created_at
      from new_events e
      join chat_private.webhooks w on chat_private.webhook_wants(w.events, e.type)
      order by e.position, w.webhook_id
      returning webhook_id
    )
    select distinct webhook_id from written
  loop
    perform pg_notify('microchatter_webhooks', v_webhook_id::text);
  end loop;
  return null;
end
$$;

drop trigger if exists webhook_event on chat_private.events;
drop trigger if exists webhook_events on chat_private.events;
create trigger webhook_events after insert on chat_private.events
  referencing new table as new_events
  for each statement execute function chat_private.webhook_events();
drop function if exists chat_private.webhook_event();

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
  'status, pairwise), then returns up to max_count due pending deliveries of the webhook, oldest first, '
  'leaving out streams whose oldest delivery is backing off after a failed attempt and busy_streams '
  '(those the job still has in flight); commit order within each stream. When only backing-off streams '
  'are left, the webhook''s job is queued for the first of their retries.';
--! EndIncluded chat_server/next_webhook_deliveries.sql
--! Included chat_server/kick_webhook.sql
create or replace function chat_server.kick_webhook(webhook_id bigint, delay_ms integer default 0)
returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  select chat_private.wake_webhook(webhook_id,
    case when delay_ms > 0 then now() + make_interval(secs => delay_ms / 1000.0) end)
$$;
comment on function chat_server.kick_webhook(bigint, integer) is
  'Wakes the deliver_webhooks job of a webhook, now or after delay_ms: the servers call it when '
  'microchatter_webhooks says the webhook has new deliveries, and the job when it hands over on shutdown '
  'or holds back an endpoint that keeps failing.';
--! EndIncluded chat_server/kick_webhook.sql
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
    select distinct d.webhook_id from chat_private.webhook_deliveries d
    where d.status = 'pending' and d.next_attempt_at <= now()
  loop
    perform chat_private.wake_webhook(v_webhook_id, null);
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$$;
comment on function chat_server.kick_webhooks() is
  'Wakes the job of every webhook with a due pending delivery: the backstop for deliveries whose '
  'notification no server heard (none running, psql before the first server start, a lost connection) '
  'or whose job was lost. Run by the servers at start, when their listener (re)connects and every '
  'minute. Returns the number of webhooks woken.';
--! EndIncluded chat_server/kick_webhooks.sql
--! Included chat_server/webhook_attempt_failed.sql
create or replace function chat_server.webhook_attempt_failed(
  delivery_id bigint,
  response_status integer,
  error text,
  retry_base_ms integer,
  retry_max_ms integer,
  retry_hours integer
)
returns text
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_delivery chat_private.webhook_deliveries;
  v_deadline timestamptz;
  v_delay interval;
begin
  select * into v_delivery from chat_private.webhook_deliveries d
  where d.delivery_id = webhook_attempt_failed.delivery_id and d.status = 'pending'
  for update;
  if not found then
    return 'gone';
  end if;
  v_deadline := v_delivery.occurred_at + make_interval(hours => retry_hours);
  -- Exponential backoff with jitter: base·2^(attempts), at most max, each wait 50–100 % of that.
  v_delay := make_interval(secs => least(retry_base_ms * power(2, least(v_delivery.attempts, 30)), retry_max_ms)
    * (0.5 + random() / 2) / 1000.0);
  update chat_private.webhook_deliveries d
  set attempts = d.attempts + 1,
      response_status = webhook_attempt_failed.response_status,
      last_error = left(error, 500),
      last_attempt_at = now(),
      status = case when now() >= v_deadline then 'failed' else 'pending' end,
      next_attempt_at = least(now() + v_delay, v_deadline)
  where d.delivery_id = v_delivery.delivery_id
  returning * into v_delivery;
  if v_delivery.status = 'failed' then
    return 'failed'; -- the stream goes on with the next delivery
  end if;
  perform chat_private.wake_webhook(v_delivery.webhook_id, v_delivery.next_attempt_at);
  return 'retry';
end
$$;
comment on function chat_server.webhook_attempt_failed(bigint, integer, text, integer, integer, integer) is
  'For the deliver_webhooks job: an attempt got no 2xx. Returns retry (the stream waits, and a job of '
  'the webhook is queued for the next attempt, after an exponential backoff with jitter) or failed (the retry window since the '
  'event has passed: the delivery is failed for good and the stream moves on).';
--! EndIncluded chat_server/webhook_attempt_failed.sql

drop function if exists chat_server.next_webhook_delivery(bigint, text);
drop function if exists chat_server.defer_webhook_stream(bigint, text, integer);
drop function if exists chat_private.wake_webhook_stream(bigint, text, timestamptz);

-- Jobs of the former layout (a queue per webhook and stream) hand over to the webhook's job when they
-- run (server/jobs/deliver_webhooks.ts); waking every webhook with pending deliveries starts it now.
do $$
begin
  if to_regnamespace('graphile_worker') is not null then
    perform chat_server.kick_webhooks();
  end if;
end
$$;

--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
