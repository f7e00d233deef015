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
