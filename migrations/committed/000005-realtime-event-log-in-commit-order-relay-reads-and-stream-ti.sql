--! Previous: sha1:6c88de2e737987c7921d807d7a8f5ad3609a57c2
--! Hash: sha1:9208d36e158e7465d09c336fdec4d29c32d45dc8
--! Message: realtime event log in commit order, relay reads and stream tickets

-- Realtime: an event log written by triggers in the same transaction as each change, numbered in
-- commit order, read by the server's relays. docs/realtime.md explains the design.

-- Functions the server itself calls (event relay, stream tickets); not exposed over HTTP.
create schema if not exists chat_server;
grant usage on schema chat_server to microchatter_app;

-- Positions are taken at commit, under one lock (chat_private.emit): a reader that has seen position
-- n never finds a smaller one appear later, so n is a cursor a client can resume from.
create sequence if not exists chat_private.event_positions;

create table if not exists chat_private.events (
  position bigint primary key,
  type text not null,
  -- Who receives it: the conversation's members at the time of the event (a small set read together).
  recipients text[] not null,
  payload jsonb not null,
  created_at timestamptz not null default now()
);
-- A resuming stream asks for one user's events after a position.
create index if not exists events_recipients_idx on chat_private.events using gin (recipients);

-- Where the log was last cut by prune_events: cursors before it get a reset.
create table if not exists chat_private.event_log (
  only_row boolean primary key default true check (only_row),
  pruned_through bigint not null default 0
);
insert into chat_private.event_log default values on conflict do nothing;

create table if not exists chat_private.stream_tickets (
  ticket_hash bytea primary key,
  user_id text not null references chat_private.users on delete cascade,
  expires_at timestamptz not null,
  credential_expires_at timestamptz
);

--! Included chat_private/events.sql
-- Realtime events: every change a user should see live is written to chat_private.events in the
-- same transaction as the change, by the triggers below, so psql and HTTP produce the same events.
-- NOTIFY only wakes the relays (docs/realtime.md).
--
-- The triggers are deferred to commit, and the first event of a transaction takes one transaction
-- lock that every event-writing transaction takes: positions are therefore handed out in commit order
-- (a sequence alone hands them out in start order, and a reader could skip a late commit for ever).
-- The lock is held only through the commit itself, which NOTIFY serialises across the cluster anyway
-- (DESIGN.md). Within a conversation, commit order is send order, so events follow seq.

-- Deferred triggers run at commit as whoever commits (the application role, not the API functions'
-- owner), so these functions are security definer like the API.

-- Writes one event, unless nobody is to receive it.
create or replace function chat_private.emit(type text, recipients text[], payload jsonb)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if cardinality(recipients) > 0 then
    -- 'MCEV' as a number: the lock's name among the database's advisory locks.
    perform pg_advisory_xact_lock(1296253270, 1);
    insert into chat_private.events (position, type, recipients, payload)
    values (nextval('chat_private.event_positions'), type, recipients, payload);
  end if;
end
$$;

-- The payload names the transaction, and PostgreSQL folds identical notifications of one transaction
-- into one: one NOTIFY per transaction however many events it wrote (DESIGN.md: notify as little as
-- possible). Relays read the table, not the payload.
create or replace function chat_private.notify_events()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform pg_notify('microchatter_events', pg_current_xact_id()::text);
  return null;
end
$$;

create or replace function chat_private.message_event()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
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
security definer
set search_path = pg_catalog, pg_temp
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
security definer
set search_path = pg_catalog, pg_temp
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

-- Constraint triggers, deferred: they run at commit (see the top of this file). Do not make them
-- immediate with SET CONSTRAINTS: the event lock would then be held for the rest of the transaction.
drop trigger if exists message_event on chat_private.messages;
create constraint trigger message_event after insert on chat_private.messages
  deferrable initially deferred
  for each row execute function chat_private.message_event();

drop trigger if exists membership_event on chat_private.memberships;
create constraint trigger membership_event after update on chat_private.memberships
  deferrable initially deferred
  for each row when (new.hidden is distinct from old.hidden or new.read_seq is distinct from old.read_seq)
  execute function chat_private.membership_event();

drop trigger if exists conversation_created on chat_private.conversations;
create constraint trigger conversation_created after insert on chat_private.conversations
  deferrable initially deferred
  for each row execute function chat_private.conversation_event();

drop trigger if exists conversation_updated on chat_private.conversations;
create constraint trigger conversation_updated after update on chat_private.conversations
  deferrable initially deferred
  for each row when (
    new.members is distinct from old.members or new.title is distinct from old.title
    or new.owner is distinct from old.owner or new.admins is distinct from old.admins
  )
  execute function chat_private.conversation_event();
--! EndIncluded chat_private/events.sql
--! Included chat_server/latest_event_position.sql
create or replace function chat_server.latest_event_position()
returns bigint
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select greatest(
    (select max(e.position) from chat_private.events e),
    (select l.pruned_through from chat_private.event_log l)
  )
$$;
comment on function chat_server.latest_event_position() is
  'The position of the newest event: where a relay starts.';
--! EndIncluded chat_server/latest_event_position.sql
--! Included chat_server/read_events.sql
create or replace function chat_server.read_events(after bigint, max_rows integer default 1000)
returns table ("position" bigint, type text, recipients text[], payload jsonb)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select e.position, e.type, e.recipients, e.payload
  from chat_private.events e
  where e.position > after
  order by e.position
  limit max_rows
$$;
comment on function chat_server.read_events(bigint, integer) is
  'Events after a position, for every recipient, in commit order: what a relay fans out to its streams.';
--! EndIncluded chat_server/read_events.sql
--! Included chat_server/user_events.sql
create or replace function chat_server.user_events(user_id text, after bigint, max_rows integer default 1000)
returns table ("position" bigint, type text, payload jsonb)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
begin
  if after < (select l.pruned_through from chat_private.event_log l) then
    raise exception using errcode = 'MCRST', message = 'event cursor older than the retained events: start afresh';
  end if;
  if after > (select s.last_value from chat_private.event_positions s) then
    raise exception using errcode = 'MCRST', message = 'unknown event cursor: start afresh';
  end if;
  return query
  select e.position, e.type, e.payload
  from chat_private.events e
  where e.recipients @> array[user_events.user_id] and e.position > after
  order by e.position
  limit max_rows;
end
$$;
comment on function chat_server.user_events(text, bigint, integer) is
  'One user''s events after their cursor, in commit order: what a resuming stream replays. Raises MCRST '
  'when the cursor is from elsewhere or older than the retained events: the client must refetch.';
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
  if v_cut is not null then
    delete from chat_private.events e where e.position < v_cut;
    get diagnostics v_deleted = row_count;
    update chat_private.event_log l set pruned_through = v_cut - 1 where l.pruned_through < v_cut - 1;
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
