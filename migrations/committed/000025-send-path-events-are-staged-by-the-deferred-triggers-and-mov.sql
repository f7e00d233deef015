--! Previous: sha1:da1eecc21285b60a14fdd58a77c900b0a1936820
--! Hash: sha1:d82dcd8d651295926d754075bdcc6aa93f68e007
--! Message: Send path: events are staged by the deferred triggers and moved into the log under the event lock by one last trigger, and senders queue on a per-conversation advisory lock taken by the top-level transaction

--! Included chat_private/memberships.sql
-- The conversation row, locked for update when the caller is going to change it (senders queue
-- here, which is what keeps seq gap-free and in send order). MCNCV when there is none.
create or replace function chat_private.conversation(conversation_id bigint, for_update boolean)
returns chat_private.conversations
language plpgsql
volatile
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations;
begin
  if for_update then
    select * into v_conversation from chat_private.conversations c
    where c.conversation_id = conversation.conversation_id for update;
  else
    select * into v_conversation from chat_private.conversations c
    where c.conversation_id = conversation.conversation_id;
  end if;
  if not found then
    raise exception using errcode = 'MCNCV',
      message = format('conversation %s does not exist', conversation.conversation_id);
  end if;
  return v_conversation;
end
$$;

-- The lock a send queues on before it locks the conversation row (chat.send_message, and
-- chat_server.send_messages for each conversation of a batch, in ascending order, before applying
-- any). Senders wait here, on a lock that their predecessor's top-level transaction takes once and
-- drops at its commit, not on the row: a batch updates the row from one subtransaction per send, and a
-- waiter on the row would be woken at each of them to find it changed again (and the row would carry
-- a new multixact of the batch's lock and each update). With ten batches queued on one conversation,
-- that churn cost eight to ten times the batches' own work. The key is the conversation_id itself in
-- the one-bigint advisory lock space (the event lock uses the two-integer one).
create or replace function chat_private.lock_conversation_for_sending(conversation_id bigint)
returns void
language sql
volatile
as $$
  select pg_advisory_xact_lock(conversation_id)
$$;

-- The actor's membership. MCNMB when the actor never belonged to the conversation, or, with
-- must_be_current, has left it (former members may still read what they saw, not act).
create or replace function chat_private.membership(actor text, conversation_id bigint, must_be_current boolean)
returns chat_private.memberships
language plpgsql
stable
as $$
#variable_conflict use_column
declare
  v_membership chat_private.memberships;
begin
  select * into v_membership from chat_private.memberships m
  where m.conversation_id = membership.conversation_id and m.user_id = membership.actor;
  if not found or (must_be_current and v_membership.left_seq is not null) then
    raise exception using errcode = 'MCNMB',
      message = format('%s is not a member of conversation %s', actor, membership.conversation_id);
  end if;
  return v_membership;
end
$$;

-- The last seq this member may see: all of them while a member, none after leaving.
create or replace function chat_private.visible_seq(c chat_private.conversations, m chat_private.memberships)
returns bigint
language sql
immutable
as $$
  select coalesce(m.left_seq, c.last_seq)
$$;

-- Unread is derived, never counted, so it cannot drift: every visible message after the read
-- position is from someone else, because sending moves the sender's read position to their message.
create or replace function chat_private.unread(c chat_private.conversations, m chat_private.memberships)
returns bigint
language sql
immutable
as $$
  select greatest(0, coalesce(m.left_seq, c.last_seq) - greatest(m.read_seq, m.cleared_seq))
$$;

-- The other member of a direct chat (null for groups).
create or replace function chat_private.peer(c chat_private.conversations, actor text)
returns text
language sql
immutable
as $$
  select case when c.kind = 'direct' then
    case when c.members[1] = actor then c.members[2] else c.members[1] end
  end
$$;

-- Whether a conversation shows in the member's inbox: not deleted by them (until a newer message),
-- and not a direct chat with someone they blocked.
create or replace function chat_private.in_inbox(c chat_private.conversations, m chat_private.memberships, blocked text[])
returns boolean
language sql
immutable
as $$
  select not m.hidden and (c.kind <> 'direct' or not chat_private.peer(c, m.user_id) = any(blocked))
$$;
--! EndIncluded chat_private/memberships.sql
--! Included chat/send_message.sql
create or replace function chat.send_message(
  actor text,
  recipient text default null,
  conversation_id bigint default null,
  body text default null,
  client_id text default null,
  reply_to_seq bigint default null,
  attachments text[] default null
)
returns chat.message
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation_id bigint := send_message.conversation_id;
  v_conversation chat_private.conversations;
  v_sender chat_private.users;
  v_membership chat_private.memberships;
  v_message chat_private.messages;
  v_answered chat_private.messages;
begin
  actor := chat_private.nfc(actor);
  recipient := chat_private.nfc(recipient);
  send_message.body := chat_private.checked_body(send_message.body, cardinality(attachments) > 0);
  if length(send_message.client_id) > 200 then
    raise exception using errcode = 'MCARG', message = 'client_id must be at most 200 characters';
  end if;
  if (recipient is null) = (v_conversation_id is null) then
    raise exception using errcode = 'MCARG', message = 'give either recipient or conversation_id';
  end if;
  v_sender := chat_private.require_user(actor);
  perform chat_private.require_not_suspended(v_sender);
  if recipient is not null then
    v_conversation_id := chat_private.direct_conversation(actor, recipient);
  end if;

  -- Senders queue on the conversation's send lock, then take its row: the lock order of
  -- chat_server.send_messages (conversations, then rate-limit buckets), so batches and single sends
  -- never deadlock.
  perform chat_private.lock_conversation_for_sending(v_conversation_id);
  v_conversation := chat_private.conversation(v_conversation_id, true);
  v_membership := chat_private.membership(actor, v_conversation_id, true);
  perform chat_private.require_not_blocked(v_conversation, v_sender);

  -- A retry with the same client_id returns the message it already created.
  if send_message.client_id is not null then
    select * into v_message from chat_private.messages msg
    where msg.conversation_id = v_conversation_id and msg.sender = actor and msg.client_id = send_message.client_id;
    if found then
      return chat_private.message_row(v_message);
    end if;
  end if;

  -- A quote reply answers a message the sender can see; not a deleted one.
  if reply_to_seq is not null then
    v_answered := chat_private.visible_message(v_conversation, v_membership, reply_to_seq, false);
    perform chat_private.require_not_deleted(v_answered);
  end if;

  send_message.body := chat_private.policy_body(actor, v_conversation_id, send_message.body, cardinality(attachments) > 0);
  perform chat_private.take_send_token(actor);

  update chat_private.conversations c set last_seq = c.last_seq + 1, last_activity_at = now()
  where c.conversation_id = v_conversation_id
  returning * into v_conversation;

  insert into chat_private.messages (conversation_id, seq, sender, body, client_id, reply_to_seq, attachments, search)
  values (v_conversation_id, v_conversation.last_seq, actor, send_message.body, send_message.client_id, reply_to_seq,
          case when cardinality(attachments) > 0
            then chat_private.attach(actor, attachments, v_conversation_id, v_conversation.last_seq) else '[]' end,
          chat_private.search_vector(send_message.body))
  returning * into v_message;

  -- Every current member sees new activity (a deleted chat comes back); the sender has read it.
  update chat_private.memberships m
  set last_activity_at = v_conversation.last_activity_at,
      hidden = false,
      read_seq = case when m.user_id = actor then v_message.seq else m.read_seq end,
      read_at = case when m.user_id = actor then v_message.sent_at else m.read_at end
  where m.conversation_id = v_conversation_id and m.left_seq is null;

  return chat_private.message_row(v_message);
end
$$;
comment on function chat.send_message(text, text, bigint, text, text, bigint, text[]) is
  'Sends a message, to a user (recipient: starts or continues your direct chat with them) or into a '
  'conversation you are a member of (conversation_id). Give exactly one of the two. body: 1 to 4000 '
  'characters (microchatter.max_body_length); may be empty when the message has attachments. client_id: '
  'your own id for the message; sending again with the same client_id returns the first message instead '
  'of storing a second. reply_to_seq: the seq of a message of this conversation you can see that this one '
  'answers (a quote reply). attachments: up to 10 ids of your own finished uploads (POST /attachments) not '
  'attached to anything yet; they are attached in the same transaction, or nothing is stored. Returns the '
  'message. Sessions that set microchatter.send_rate_per_minute (the server does) may send that many per '
  'minute per user. Errors: MCEMB, MCLNG, MCARG, MCUNU, MCSLF, MCNCV, MCNMB, MCBLK, MCNMS, MCDEL, MCATT, '
  'MCLIM, MCRAT, MCSUS, MCMOD.';
--! EndIncluded chat/send_message.sql
--! Included chat_server/send_messages.sql
-- Group commit: the server gathers the sends that arrive while a batch is in flight and applies them
-- here in one transaction, so they share one commit flush, one event lock and one NOTIFY. Each item is
-- chat.send_message itself (the only place the send rules live), in its own subtransaction: a refused
-- item rolls back alone (its rate token, its attachments, its event) and the others go on.
--
-- Locks, so that batches in different processes, and a batch and a plain chat.send_message, never
-- deadlock. send_message takes, in this order: the conversation's send lock
-- (chat_private.lock_conversation_for_sending) and its row, the sender's rate-limit bucket, the
-- uploads it attaches, the sender's membership row (and in a direct chat the peer's). The batch takes
-- the send locks of all its conversations first, in ascending conversation_id, then their rows in the
-- same order, then all its senders' buckets in ascending order (chat_private.lock_send_tokens), and
-- only then applies the items: so every transaction takes conversations before buckets, each kind in
-- one order, and what an item takes after that (uploads, memberships of a conversation the batch
-- holds) is held by nobody waiting for the batch. The one exception is a client attaching the same
-- uploads to two sends at once in reverse order: PostgreSQL then refuses one item with 40P01
-- (deadlock_detected), and one of the two would be MCATT anyway.

-- Only conversation_id sends: a recipient send may have to create the direct chat, whose row does not
-- exist to be locked in order; it is refused with MCARG (send it with chat.send_message).
create or replace function chat_server.send_messages(sends jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_max integer := 1000;
  v_item jsonb;
  v_results jsonb := '[]';
  v_conversation_id bigint;
  v_attachments text[];
  v_message chat.message;
  v_code text;
  v_text text;
  v_hint text;
begin
  if jsonb_typeof(sends) is distinct from 'array' then
    raise exception using errcode = 'MCARG', message = 'sends must be a JSON array of sends';
  end if;
  if jsonb_array_length(sends) > v_max then
    raise exception using errcode = 'MCLIM', message = format('a batch has at most %s sends', v_max);
  end if;

  -- Ascending conversation_id; ids that do not parse are refused by their item below.
  for v_conversation_id in
    select distinct (e ->> 'conversation_id')::bigint from jsonb_array_elements(sends) e
    where jsonb_typeof(e) = 'object' and e ->> 'conversation_id' ~ '^\d{1,18}$'
    order by 1
  loop
    perform chat_private.lock_conversation_for_sending(v_conversation_id);
  end loop;
  -- The rows too, in the same order, as other writers of several conversations do (delete_user).
  perform from chat_private.conversations c
  where c.conversation_id in (
    select (e ->> 'conversation_id')::bigint from jsonb_array_elements(sends) e
    where jsonb_typeof(e) = 'object' and e ->> 'conversation_id' ~ '^\d{1,18}$'
  )
  order by c.conversation_id
  for update;
  perform chat_private.lock_send_tokens(array(
    select chat_private.nfc(e ->> 'actor') from jsonb_array_elements(sends) e
    where jsonb_typeof(e) = 'object' and jsonb_typeof(e -> 'actor') = 'string'
  ));

  for v_item in select e from jsonb_array_elements(sends) e loop
    begin
      if jsonb_typeof(v_item) <> 'object' then
        raise exception using errcode = 'MCARG', message = 'each send must be a JSON object';
      end if;
      if v_item ? 'recipient' then
        raise exception using errcode = 'MCARG',
          message = 'a batch sends by conversation_id only; send to a recipient with chat.send_message';
      end if;
      if exists (select from jsonb_object_keys(v_item) k
                 where k not in ('actor', 'conversation_id', 'body', 'client_id', 'reply_to_seq', 'attachments')) then
        raise exception using errcode = 'MCARG',
          message = 'a send has only actor, conversation_id, body, client_id, reply_to_seq and attachments';
      end if;
      if jsonb_typeof(v_item -> 'actor') is distinct from 'string' then
        raise exception using errcode = 'MCARG', message = 'actor must be a user id';
      end if;
      if coalesce(v_item ->> 'conversation_id', '') !~ '^\d{1,18}$' then
        raise exception using errcode = 'MCARG', message = 'conversation_id must be a conversation id';
      end if;
      v_conversation_id := (v_item ->> 'conversation_id')::bigint;
      if coalesce(jsonb_typeof(v_item -> 'body'), 'null') not in ('string', 'null')
         or coalesce(jsonb_typeof(v_item -> 'client_id'), 'null') not in ('string', 'null') then
        raise exception using errcode = 'MCARG', message = 'body and client_id must be strings';
      end if;
      if coalesce(jsonb_typeof(v_item -> 'reply_to_seq'), 'null') <> 'null'
         and v_item ->> 'reply_to_seq' !~ '^\d{1,18}$' then
        raise exception using errcode = 'MCARG', message = 'reply_to_seq must be a seq';
      end if;
      v_attachments := null;
      if coalesce(jsonb_typeof(v_item -> 'attachments'), 'null') <> 'null' then
        if jsonb_typeof(v_item -> 'attachments') <> 'array' or exists (
          select from jsonb_array_elements(v_item -> 'attachments') a where jsonb_typeof(a) <> 'string'
        ) then
          raise exception using errcode = 'MCARG', message = 'attachments must be a list of attachment ids';
        end if;
        v_attachments := array(select jsonb_array_elements_text(v_item -> 'attachments'));
      end if;

      v_message := chat.send_message(
        actor => v_item ->> 'actor',
        conversation_id => v_conversation_id,
        body => v_item ->> 'body',
        client_id => v_item ->> 'client_id',
        reply_to_seq => (v_item ->> 'reply_to_seq')::bigint,
        attachments => v_attachments
      );
      v_results := v_results || jsonb_build_array(jsonb_build_object('message', to_jsonb(v_message)));
    exception when others then
      get stacked diagnostics v_code = returned_sqlstate, v_text = message_text, v_hint = pg_exception_hint;
      v_results := v_results || jsonb_build_array(jsonb_build_object('error',
        jsonb_build_object('code', v_code, 'message', v_text, 'hint', nullif(v_hint, ''))));
    end;
  end loop;
  return v_results;
end
$$;
comment on function chat_server.send_messages(jsonb) is
  'Applies many sends in one transaction (the server''s group commit). sends: a JSON array of at most '
  '1000 objects {actor, conversation_id, body?, client_id?, reply_to_seq?, attachments?}, each sent as '
  'chat.send_message would, in array order (within a conversation seq follows it). Returns an array of '
  'the same length and order: {"message": <the message>} or {"error": {"code", "message", "hint"}} for a '
  'refused send, which leaves nothing behind; the others are unaffected. Sends naming a recipient '
  'instead of a conversation_id are refused (MCARG). Errors (of the whole batch): MCARG, MCLIM.';
--! EndIncluded chat_server/send_messages.sql
--! Included chat_private/events.sql
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
  if new.hidden and not old.hidden then
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
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
