--! Previous: sha1:2c191a3d58912ee25fe39b0f68945452c60d7809
--! Hash: sha1:a198a26968bdd96f6c625e26ea0ffd099e2dd586
--! Message: Webhooks: subscriptions, an outbox of signed deliveries written at commit, retries and ordering per endpoint and conversation

-- Webhooks: subscriptions and an outbox of deliveries, written in the transaction of the change and
-- carried out by graphile-worker jobs in the server (docs/webhooks.md).
create table if not exists chat_private.webhooks (
  webhook_id bigint generated always as identity primary key,
  url text not null,
  events text[] not null,
  secret text not null,
  created_at timestamptz not null default now()
);

create table if not exists chat_private.webhook_deliveries (
  delivery_id bigint generated always as identity primary key,
  webhook_id bigint not null references chat_private.webhooks (webhook_id) on delete cascade,
  -- The ordering stream: deliveries of one webhook and stream are made one at a time, in delivery_id order.
  stream text not null,
  event_type text not null,
  -- The event's JSON; dropped once delivered.
  payload jsonb,
  occurred_at timestamptz not null,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_attempt_at timestamptz,
  response_status integer,
  last_error text,
  delivered_at timestamptz
);
create index if not exists webhook_deliveries_pending_idx
  on chat_private.webhook_deliveries (webhook_id, stream, delivery_id) where status = 'pending';
create index if not exists webhook_deliveries_webhook_idx
  on chat_private.webhook_deliveries (webhook_id, delivery_id);

-- What create_webhook returns: the only time the secret is shown.
do $$
begin
  if to_regtype('chat_admin.webhook') is null then
    create type chat_admin.webhook as (webhook_id bigint, url text, events text[], secret text, created_at timestamptz);
  end if;
end
$$;

--! Included chat_private/webhooks.sql
-- Webhooks: an outbox of deliveries written in the transaction of the change, and a graphile-worker
-- job that carries them out (server/jobs/deliver_webhooks.ts). docs/webhooks.md describes the contract.
--
-- The delivery row is the truth, the job only a wake-up: a transaction that writes deliveries where
-- graphile-worker's schema is not installed yet (psql, before the server first started) still writes
-- them, and the server's sweep (chat_server.kick_webhooks) wakes them up later. Jobs carry ids only, so
-- no message body ever sits in graphile-worker's tables.
--
-- Deliveries of one webhook are ordered per stream: a conversation ('c:<id>'), a user ('u:<md5 of the
-- id>', for push.needed) or everything else ('e'). One graphile-worker queue per webhook and stream runs
-- them one at a time, in delivery_id order; the event triggers write them at commit, under the event lock,
-- so delivery_id follows commit order as event positions do (chat_private/events.sql).

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

-- Wakes the job of one webhook's stream. A pending job keeps its run_at (preserve_run_at): new
-- deliveries do not cut a backoff short. A job already running is left to finish and a new one is queued
-- behind it in the stream's queue (graphile-worker clears a running job's key).
create or replace function chat_private.wake_webhook_stream(webhook_id bigint, stream text, run_at timestamptz)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_key text := format('webhook:%s:%s', webhook_id, stream);
begin
  if to_regnamespace('graphile_worker') is null then
    return; -- the server installs graphile-worker at start and then sweeps (chat_server.kick_webhooks)
  end if;
  perform graphile_worker.add_job(
    'deliver_webhooks',
    json_build_object('webhook_id', webhook_id, 'stream', stream),
    queue_name => v_key,
    run_at => run_at,
    max_attempts => 25,
    job_key => v_key,
    job_key_mode => 'preserve_run_at'
  );
end
$$;

-- Writes one delivery per webhook subscribed to the event type, and wakes their streams.
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
    order by w.webhook_id
    returning webhook_id
  loop
    perform chat_private.wake_webhook_stream(v_webhook_id, stream, null);
  end loop;
end
$$;

-- Every event of the log reaches the webhooks subscribed to it, from the transaction that wrote it.
create or replace function chat_private.webhook_event()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if exists (select from chat_private.webhooks) then
    perform chat_private.enqueue_webhooks(new.type, chat_private.webhook_stream(new.payload), new.payload, new.created_at);
  end if;
  return null;
end
$$;

drop trigger if exists webhook_event on chat_private.events;
create trigger webhook_event after insert on chat_private.events
  for each row execute function chat_private.webhook_event();

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
  insert into chat_private.webhooks (url, events, secret)
  values (chat_private.checked_webhook_url(create_webhook.url),
          array(select distinct e from unnest(create_webhook.events) e order by e),
          chat_private.checked_webhook_secret(create_webhook.secret))
  returning webhook_id, url, events, secret, created_at into v_webhook;
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
--! Included chat_admin/list_webhooks.sql
create or replace function chat_admin.list_webhooks()
returns table (webhook_id bigint, url text, events text[], created_at timestamptz, pending bigint, failed bigint)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select w.webhook_id, w.url, w.events, w.created_at,
    (select count(*) from chat_private.webhook_deliveries d where d.webhook_id = w.webhook_id and d.status = 'pending'),
    (select count(*) from chat_private.webhook_deliveries d where d.webhook_id = w.webhook_id and d.status = 'failed')
  from chat_private.webhooks w
  order by w.webhook_id
$$;
comment on function chat_admin.list_webhooks() is
  'The webhooks, oldest first, with how many deliveries are pending and how many failed for good. '
  'Secrets are shown only by create_webhook.';
--! EndIncluded chat_admin/list_webhooks.sql
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
end
$$;
comment on function chat_admin.delete_webhook(bigint) is
  'Deletes a webhook and its deliveries, pending ones included: nothing more is sent to it. Errors: MCNWH.';
--! EndIncluded chat_admin/delete_webhook.sql
--! Included chat_admin/list_webhook_deliveries.sql
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
--! EndIncluded chat_admin/list_webhook_deliveries.sql
--! Included chat_server/next_webhook_delivery.sql
create or replace function chat_server.next_webhook_delivery(webhook_id bigint, stream text)
returns table (
  delivery_id bigint,
  url text,
  secret text,
  event_type text,
  payload jsonb,
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
  v_delivery chat_private.webhook_deliveries;
begin
  select * into v_delivery from chat_private.webhook_deliveries d
  where d.webhook_id = next_webhook_delivery.webhook_id and d.stream = next_webhook_delivery.stream
    and d.status = 'pending'
  order by d.delivery_id
  limit 1;
  if not found then
    return;
  end if;
  -- Woken early (a sweep, a new delivery behind one that is backing off): come back when it is due.
  if v_delivery.next_attempt_at > now() then
    perform chat_private.wake_webhook_stream(v_delivery.webhook_id, v_delivery.stream, v_delivery.next_attempt_at);
    return;
  end if;
  return query
  select v_delivery.delivery_id, w.url, w.secret, v_delivery.event_type, v_delivery.payload,
    v_delivery.occurred_at, v_delivery.attempts
  from chat_private.webhooks w where w.webhook_id = v_delivery.webhook_id;
end
$$;
comment on function chat_server.next_webhook_delivery(bigint, text) is
  'For the deliver_webhooks job: the oldest pending delivery of a webhook''s stream if it is due. When it '
  'is backing off, the stream''s job is queued again for its next attempt and nothing is returned.';
--! EndIncluded chat_server/next_webhook_delivery.sql
--! Included chat_server/webhook_delivered.sql
create or replace function chat_server.webhook_delivered(delivery_id bigint, response_status integer)
returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  -- The payload is not kept once it reached the receiver: fewer copies of message bodies to erase.
  update chat_private.webhook_deliveries d
  set status = 'delivered', attempts = d.attempts + 1, response_status = webhook_delivered.response_status,
      last_error = null, last_attempt_at = now(), delivered_at = now(), payload = null
  where d.delivery_id = webhook_delivered.delivery_id and d.status = 'pending'
$$;
comment on function chat_server.webhook_delivered(bigint, integer) is
  'For the deliver_webhooks job: the receiver answered 2xx.';
--! EndIncluded chat_server/webhook_delivered.sql
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
  perform chat_private.wake_webhook_stream(v_delivery.webhook_id, v_delivery.stream, v_delivery.next_attempt_at);
  return 'retry';
end
$$;
comment on function chat_server.webhook_attempt_failed(bigint, integer, text, integer, integer, integer) is
  'For the deliver_webhooks job: an attempt got no 2xx. Returns retry (the stream''s job is queued again '
  'for the next attempt, after an exponential backoff with jitter) or failed (the retry window since the '
  'event has passed: the delivery is failed for good and the stream moves on).';
--! EndIncluded chat_server/webhook_attempt_failed.sql
--! Included chat_server/kick_webhooks.sql
create or replace function chat_server.kick_webhooks()
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_stream record;
  v_count integer := 0;
begin
  for v_stream in
    select distinct d.webhook_id, d.stream from chat_private.webhook_deliveries d
    where d.status = 'pending' and d.next_attempt_at <= now()
  loop
    perform chat_private.wake_webhook_stream(v_stream.webhook_id, v_stream.stream, null);
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$$;
comment on function chat_server.kick_webhooks() is
  'Wakes every webhook stream with a due pending delivery: the backstop for deliveries written before '
  'graphile-worker was installed (psql before the first server start) or whose job was lost. Run at '
  'start and every minute by the server. Returns the number of streams woken.';
--! EndIncluded chat_server/kick_webhooks.sql
--! Included chat_server/defer_webhook_stream.sql
create or replace function chat_server.defer_webhook_stream(webhook_id bigint, stream text, milliseconds integer)
returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  select chat_private.wake_webhook_stream(webhook_id, stream, now() + make_interval(secs => milliseconds / 1000.0))
$$;
comment on function chat_server.defer_webhook_stream(bigint, text, integer) is
  'For the deliver_webhooks job: try this stream again later without spending an attempt (its endpoint '
  'keeps failing and has enough attempts in flight).';
--! EndIncluded chat_server/defer_webhook_stream.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
