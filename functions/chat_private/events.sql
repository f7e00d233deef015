-- Realtime events: every change a user should see live is written to chat_private.events in the
-- same transaction as the change, by the triggers below, so psql and HTTP produce the same events.
-- NOTIFY only wakes the relays (docs/realtime.md).
--
-- The triggers are deferred to commit, and the events of a transaction are written under one
-- transaction lock that every event-writing transaction takes: positions are therefore handed out in
-- commit order (a sequence alone hands them out in start order, and a reader could skip a late commit
-- for ever). Within a conversation, commit order is send order, so events follow seq.
--
-- Every event-writing transaction waits for that lock, and its holder keeps it through its commit
-- flush (which NOTIFY serialises across the cluster anyway, DESIGN.md), so it is taken as late as
-- possible: the deferred triggers first only compute each event (recipients, payload) and stage it in
-- chat_private.pending_events; staging queues one more deferred trigger, which PostgreSQL fires after
-- every trigger queued before it, and that one takes the lock and moves the staged events into the
-- log with their positions, in staging order, in one statement. A batch of sends thus builds all its
-- payloads before the lock, not one after the other under it. An event emitted after that (by a
-- trigger the move itself queued) goes straight into the log: the lock is held by then.

-- Deferred triggers run at commit as whoever commits (the application role, not the API functions'
-- owner), so these functions are security definer like the API.

-- Events computed but not yet in the log, for the rest of their transaction only (rows of committed
-- or rolled-back transactions never stay: the move deletes them, a rollback discards them). Unlogged:
-- nothing of it outlives a transaction, so nothing is worth a WAL write.
create unlogged table if not exists chat_private.pending_events (
  xact xid8 not null default pg_current_xact_id(),
  n bigint generated always as identity,
  type text not null,
  recipients text[] not null,
  payload jsonb not null,
  primary key (xact, n)
);

-- The transaction that holds the event lock and has moved its staged events: a transaction-local
-- setting, so a rolled-back subtransaction (a refused send of a batch) takes it back with it.
create or replace function chat_private.holds_event_lock()
returns boolean
language sql
stable
as $$
  select current_setting('microchatter.event_lock_xact', true) = pg_current_xact_id()::text
$$;

-- Writes one event, unless nobody is to receive it: staged until the end of the transaction, or into
-- the log when the transaction holds the lock already.
create or replace function chat_private.emit(type text, recipients text[], payload jsonb)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if cardinality(recipients) = 0 then
    return;
  end if;
  if chat_private.holds_event_lock() then
    insert into chat_private.events (position, type, recipients, payload)
    values (nextval('chat_private.event_positions'), type, recipients, payload);
  else
    insert into chat_private.pending_events (type, recipients, payload) values (type, recipients, payload);
  end if;
end
$$;

-- Queued once per staged event, so it fires after every trigger that was queued before the first
-- staged event (PostgreSQL fires deferred triggers in the order they were queued, and those queued
-- while firing after all of them): the first call takes the lock and moves all of the transaction's
-- staged events; the later calls find it held and do nothing.
create or replace function chat_private.flush_events()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if chat_private.holds_event_lock() then
    return null;
  end if;
  -- 'MCEV' as a number: the lock's name among the database's advisory locks.
  perform pg_advisory_xact_lock(1296253270, 1);
  perform set_config('microchatter.event_lock_xact', pg_current_xact_id()::text, true);
  with moved as (
    delete from chat_private.pending_events p where p.xact = pg_current_xact_id()
    returning p.n, p.type, p.recipients, p.payload
  )
  insert into chat_private.events (position, type, recipients, payload)
  select nextval('chat_private.event_positions'), m.type, m.recipients, m.payload
  from (select * from moved order by moved.n) m;
  return null;
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

-- A message changed after it was sent: edited, reacted to, deleted. Its current members hear of it, but
-- not those who cannot see it (it is from before they joined or deleted the chat).
create or replace function chat_private.message_changed_event()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform chat_private.emit(
    case when new.deleted_at is not null and old.deleted_at is null then 'message.deleted' else 'message.updated' end,
    array(
      select m.user_id from chat_private.memberships m
      where m.conversation_id = new.conversation_id and m.left_seq is null and m.cleared_seq < new.seq
      order by m.user_id
    ),
    jsonb_build_object('conversation_id', new.conversation_id, 'message', to_jsonb(chat_private.message_row(new)))
  );
  return null;
end
$$;

-- A member's own state changed: deleted the chat (tells their devices), or read it (tells their devices
-- and the other members who may see receipts: chat_private.receipt_audience, computed before emit
-- takes the event lock). Sending moves the sender's read position to their own message:
-- message.created already says so.
create or replace function chat_private.membership_event()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  -- Deleted: hidden now, or deleted again (cleared further) after newer messages brought it back.
  if new.hidden and (not old.hidden or new.cleared_seq > old.cleared_seq) then
    perform chat_private.emit('conversation.deleted', array[new.user_id],
      jsonb_build_object('conversation_id', new.conversation_id));
  elsif new.read_seq > old.read_seq and not exists (
    select from chat_private.messages msg
    where msg.conversation_id = new.conversation_id and msg.seq = new.read_seq and msg.sender = new.user_id
  ) then
    perform chat_private.emit(
      'conversation.read',
      chat_private.receipt_audience(new.conversation_id, new.user_id, new.left_seq is null),
      jsonb_build_object('conversation_id', new.conversation_id, 'user', new.user_id, 'read_seq', new.read_seq,
        'read_at', new.read_at)
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

drop trigger if exists flush_events on chat_private.pending_events;
create constraint trigger flush_events after insert on chat_private.pending_events
  deferrable initially deferred
  for each row execute function chat_private.flush_events();

drop trigger if exists notify_events on chat_private.events;
create trigger notify_events after insert on chat_private.events
  for each statement execute function chat_private.notify_events();

-- Constraint triggers, deferred: they run at commit (see the top of this file). Do not make them
-- immediate with SET CONSTRAINTS: the event lock would then be held for the rest of the transaction.
drop trigger if exists message_event on chat_private.messages;
create constraint trigger message_event after insert on chat_private.messages
  deferrable initially deferred
  for each row execute function chat_private.message_event();

-- A transaction that changes one message several times writes one event per change, each with the
-- message as that change left it.
drop trigger if exists message_changed_event on chat_private.messages;
create constraint trigger message_changed_event after update on chat_private.messages
  deferrable initially deferred
  for each row when (
    new.body is distinct from old.body or new.reactions is distinct from old.reactions
    or new.deleted_at is distinct from old.deleted_at or new.attachments is distinct from old.attachments
  )
  execute function chat_private.message_changed_event();

drop trigger if exists membership_event on chat_private.memberships;
create constraint trigger membership_event after update on chat_private.memberships
  deferrable initially deferred
  for each row when (
    new.hidden is distinct from old.hidden or new.cleared_seq is distinct from old.cleared_seq
    or new.read_seq is distinct from old.read_seq
  )
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
