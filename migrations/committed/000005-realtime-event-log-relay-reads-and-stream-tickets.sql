--! Previous: sha1:6c88de2e737987c7921d807d7a8f5ad3609a57c2
--! Hash: sha1:458cfaa95a1a8d2b29aec9f4d6d5325067d22617
--! Message: realtime event log, relay reads and stream tickets

-- Realtime: an event log written by triggers in the same transaction as each change, read by the
-- server's relays in (transaction id, event id) order. docs/realtime.md explains the design.

-- Functions the server itself calls (event relay, stream tickets); not exposed over HTTP.
create schema if not exists chat_server;
grant usage on schema chat_server to microchatter_app;

create table if not exists chat_private.events (
  xid xid8 not null default pg_current_xact_id(),
  event_id bigint generated always as identity,
  type text not null,
  -- Who receives it: the conversation's members at the time of the event (a small set read together).
  recipients text[] not null,
  payload jsonb not null,
  created_at timestamptz not null default now(),
  primary key (xid, event_id)
);
-- A resuming stream asks for one user's events after a position.
create index if not exists events_recipients_idx on chat_private.events using gin (recipients);

-- Where the log was last cut by prune_events: cursors before it get a reset.
create table if not exists chat_private.event_log (
  only_row boolean primary key default true check (only_row),
  pruned_xid xid8 not null default '0',
  pruned_event_id bigint not null default 0
);
insert into chat_private.event_log default values on conflict do nothing;

create table if not exists chat_private.stream_tickets (
  ticket_hash bytea primary key,
  user_id text not null references chat_private.users on delete cascade,
  expires_at timestamptz not null,
  credential_expires_at timestamptz
);

--! Included chat_private/event_cursor.sql
-- An event's position in the log, and the resume cursor a client holds: "<xid>-<event_id>".
--
-- Positions are ordered by (transaction id, event id), and a reader only takes events of
-- transactions older than every transaction still running (the snapshot's xmin). Those are all
-- finished, so nothing can later commit below a position already read: ids from a sequence are not
-- handed out in commit order, but this order is final once read (docs/realtime.md).
create or replace function chat_private.event_cursor(xid xid8, event_id bigint)
returns text
language sql
immutable
as $$
  select xid::text || '-' || event_id
$$;

-- Parses a cursor, or raises MCRST: the client must start afresh (reset).
create or replace function chat_private.parse_event_cursor(cursor text, out xid xid8, out event_id bigint)
language plpgsql
immutable
as $$
begin
  if cursor is null or cursor !~ '^\d{1,20}-\d{1,18}$' then
    raise exception using errcode = 'MCRST', message = 'unknown event cursor: start afresh';
  end if;
  xid := split_part(cursor, '-', 1)::xid8;
  event_id := split_part(cursor, '-', 2)::bigint;
end
$$;
--! EndIncluded chat_private/event_cursor.sql
--! Included chat_private/events.sql
-- Realtime events: every change a user should see live is written to chat_private.events in the
-- same transaction as the change, by the triggers below, so psql and HTTP produce the same events.
-- NOTIFY only wakes the relays (docs/realtime.md).

-- Writes one event, unless nobody is to receive it.
create or replace function chat_private.emit(type text, recipients text[], payload jsonb)
returns void
language sql
volatile
as $$
  insert into chat_private.events (type, recipients, payload)
  select type, recipients, payload
  where cardinality(recipients) > 0
$$;

-- The payload names the transaction, and PostgreSQL folds identical notifications of one transaction
-- into one: one NOTIFY per transaction however many events it wrote (DESIGN.md: NOTIFY serialises
-- commits cluster-wide, so notify as little as possible).
create or replace function chat_private.notify_events()
returns trigger
language plpgsql
as $$
begin
  perform pg_notify('microchatter_events', pg_current_xact_id()::text);
  return null;
end
$$;

create or replace function chat_private.message_event()
returns trigger
language plpgsql
as $$
begin
  perform chat_private.emit(
    'message.created',
    (select c.members from chat_private.conversations c where c.conversation_id = new.conversation_id),
    jsonb_build_object('conversation_id', new.conversation_id, 'message', to_jsonb(chat_private.message_row(new)))
  );
  return null;
end
$$;

-- A member's own state changed: deleted the chat (tells their devices), or read it (tells their devices
-- and the other members, for read receipts). Sending moves the sender's read position to their own
-- message: message.created already says so.
create or replace function chat_private.membership_event()
returns trigger
language plpgsql
as $$
begin
  if new.hidden and not old.hidden then
    perform chat_private.emit('conversation.deleted', array[new.user_id],
      jsonb_build_object('conversation_id', new.conversation_id));
  elsif new.read_seq > old.read_seq and not exists (
    select from chat_private.messages msg
    where msg.conversation_id = new.conversation_id and msg.seq = new.read_seq and msg.sender = new.user_id
  ) then
    perform chat_private.emit(
      'conversation.read',
      case when new.left_seq is null
        then (select c.members from chat_private.conversations c where c.conversation_id = new.conversation_id)
        else array[new.user_id]
      end,
      jsonb_build_object('conversation_id', new.conversation_id, 'user', new.user_id, 'read_seq', new.read_seq)
    );
  end if;
  return null;
end
$$;

-- A conversation appeared (first message of a direct chat, a group's first members) or its members,
-- title or roles changed. Removed members hear of it too, so their devices can update.
create or replace function chat_private.conversation_event()
returns trigger
language plpgsql
as $$
declare
  v_old_members text[] := case when tg_op = 'UPDATE' then old.members else '{}' end;
begin
  perform chat_private.emit(
    case when cardinality(v_old_members) = 0 then 'conversation.created' else 'conversation.updated' end,
    new.members || array(select u from unnest(v_old_members) u where not u = any(new.members)),
    jsonb_build_object('conversation_id', new.conversation_id, 'kind', new.kind, 'title', new.title,
      'members', new.members, 'owner', new.owner, 'admins', new.admins)
  );
  return null;
end
$$;

drop trigger if exists notify_events on chat_private.events;
create trigger notify_events after insert on chat_private.events
  for each statement execute function chat_private.notify_events();

drop trigger if exists message_event on chat_private.messages;
create trigger message_event after insert on chat_private.messages
  for each row execute function chat_private.message_event();

drop trigger if exists membership_event on chat_private.memberships;
create trigger membership_event after update on chat_private.memberships
  for each row when (new.hidden is distinct from old.hidden or new.read_seq is distinct from old.read_seq)
  execute function chat_private.membership_event();

drop trigger if exists conversation_created on chat_private.conversations;
create trigger conversation_created after insert on chat_private.conversations
  for each row execute function chat_private.conversation_event();

drop trigger if exists conversation_updated on chat_private.conversations;
create trigger conversation_updated after update on chat_private.conversations
  for each row when (
    new.members is distinct from old.members or new.title is distinct from old.title
    or new.owner is distinct from old.owner or new.admins is distinct from old.admins
  )
  execute function chat_private.conversation_event();
--! EndIncluded chat_private/events.sql
--! Included chat_server/latest_event_cursor.sql
create or replace function chat_server.latest_event_cursor()
returns text
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select coalesce(
    (select chat_private.event_cursor(e.xid, e.event_id)
     from chat_private.events e
     where e.xid < pg_snapshot_xmin(pg_current_snapshot())
     order by e.xid desc, e.event_id desc
     limit 1),
    (select chat_private.event_cursor(l.pruned_xid, l.pruned_event_id) from chat_private.event_log l)
  )
$$;
comment on function chat_server.latest_event_cursor() is
  'The position of the newest event that can be read now: where a relay starts.';
--! EndIncluded chat_server/latest_event_cursor.sql
--! Included chat_server/read_events.sql
create or replace function chat_server.read_events(after text, max_rows integer default 1000)
returns table (cursor text, type text, recipients text[], payload jsonb)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select chat_private.event_cursor(e.xid, e.event_id), e.type, e.recipients, e.payload
  from chat_private.events e, chat_private.parse_event_cursor(after) a
  where (e.xid, e.event_id) > (a.xid, a.event_id)
    and e.xid < pg_snapshot_xmin(pg_current_snapshot())
  order by e.xid, e.event_id
  limit max_rows
$$;
comment on function chat_server.read_events(text, integer) is
  'Events after a position, for every recipient, in log order: what a relay fans out to its streams. '
  'Only events of finished transactions are returned, so a later call never finds one before its cursor.';
--! EndIncluded chat_server/read_events.sql
--! Included chat_server/user_events.sql
create or replace function chat_server.user_events(user_id text, after text, max_rows integer default 1000)
returns table (cursor text, type text, payload jsonb)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_after record := chat_private.parse_event_cursor(after);
  v_log chat_private.event_log := (select l from chat_private.event_log l);
begin
  if (v_after.xid, v_after.event_id) < (v_log.pruned_xid, v_log.pruned_event_id) then
    raise exception using errcode = 'MCRST', message = 'event cursor older than the retained events: start afresh';
  end if;
  if v_after.xid >= pg_snapshot_xmax(pg_current_snapshot()) then
    raise exception using errcode = 'MCRST', message = 'unknown event cursor: start afresh';
  end if;
  return query
  select chat_private.event_cursor(e.xid, e.event_id), e.type, e.payload
  from chat_private.events e
  where e.recipients @> array[user_events.user_id]
    and (e.xid, e.event_id) > (v_after.xid, v_after.event_id)
    and e.xid < pg_snapshot_xmin(pg_current_snapshot())
  order by e.xid, e.event_id
  limit max_rows;
end
$$;
comment on function chat_server.user_events(text, text, integer) is
  'One user''s events after their cursor, in log order: what a resuming stream replays. Raises MCRST when '
  'the cursor is malformed, from elsewhere, or older than the retained events: the client must refetch.';
--! EndIncluded chat_server/user_events.sql
--! Included chat_server/prune_events.sql
create or replace function chat_server.prune_events(retention interval default '30 days')
returns bigint
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_keep record;
  v_deleted bigint;
begin
  -- The log is cut at one position: the first event young enough to keep. Everything before it goes,
  -- so "older than the retained events" is a simple comparison with that position.
  select e.xid, e.event_id into v_keep
  from chat_private.events e
  where e.created_at >= now() - retention and e.xid < pg_snapshot_xmin(pg_current_snapshot())
  order by e.xid, e.event_id
  limit 1;
  if not found then
    select e.xid, e.event_id + 1 as event_id into v_keep
    from chat_private.events e
    where e.xid < pg_snapshot_xmin(pg_current_snapshot())
    order by e.xid desc, e.event_id desc
    limit 1;
  end if;
  if v_keep.xid is null then
    v_deleted := 0;
  else
    delete from chat_private.events e where (e.xid, e.event_id) < (v_keep.xid, v_keep.event_id);
    get diagnostics v_deleted = row_count;
    if v_deleted > 0 then
      -- A cursor below the cut may have missed a deleted event: the last one before the cut.
      update chat_private.event_log l set pruned_xid = v_keep.xid, pruned_event_id = v_keep.event_id - 1
      where (l.pruned_xid, l.pruned_event_id) < (v_keep.xid, v_keep.event_id - 1);
    end if;
  end if;
  delete from chat_private.stream_tickets t where t.expires_at < now();
  return v_deleted;
end
$$;
comment on function chat_server.prune_events(interval) is
  'Deletes events older than the retention (default 30 days) and expired stream tickets; returns how '
  'many events went. A client whose cursor is older gets a reset. The server calls it hourly.';
--! EndIncluded chat_server/prune_events.sql
--! Included chat_server/create_stream_ticket.sql
create or replace function chat_server.create_stream_ticket(
  user_id text,
  credential_expires_at timestamptz default null,
  valid_for interval default '60 seconds'
)
returns table (ticket text, expires_at timestamptz)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_ticket text := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
  v_expires_at timestamptz := now() + least(valid_for, interval '60 seconds');
begin
  perform chat_private.require_user(create_stream_ticket.user_id);
  -- Only a hash is stored: a leaked table does not let anyone open a stream.
  insert into chat_private.stream_tickets (ticket_hash, user_id, expires_at, credential_expires_at)
  values (sha256(convert_to(v_ticket, 'UTF8')), create_stream_ticket.user_id, v_expires_at, credential_expires_at);
  return query select v_ticket, v_expires_at;
end
$$;
comment on function chat_server.create_stream_ticket(text, timestamptz, interval) is
  'A single-use ticket (valid at most 60 s) that opens one event stream for the user: browsers'' '
  'EventSource cannot send an Authorization header. Stored in the database, so any server process can '
  'redeem it. Errors: MCUNU.';
--! EndIncluded chat_server/create_stream_ticket.sql
--! Included chat_server/redeem_stream_ticket.sql
create or replace function chat_server.redeem_stream_ticket(ticket text)
returns table (user_id text, credential_expires_at timestamptz)
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  -- Deleting it is what makes it single-use: two redemptions cannot both delete the row.
  delete from chat_private.stream_tickets t
  where t.ticket_hash = sha256(convert_to(ticket, 'UTF8')) and t.expires_at > now()
  returning t.user_id, t.credential_expires_at
$$;
comment on function chat_server.redeem_stream_ticket(text) is
  'Uses up a stream ticket: returns its user (and when the credential it was made from expires), or no '
  'row when the ticket is unknown, used or expired.';
--! EndIncluded chat_server/redeem_stream_ticket.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
