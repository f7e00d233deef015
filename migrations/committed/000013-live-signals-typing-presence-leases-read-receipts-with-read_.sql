--! Previous: sha1:04f68d66546d2eeb67fd8b4220e7d32fc6c6eff8
--! Hash: sha1:2c191a3d58912ee25fe39b0f68945452c60d7809
--! Message: live signals: typing, presence leases, read receipts with read_at, privacy settings

-- Live signals: typing, presence, read receipts, each with a privacy setting (docs/realtime.md).

-- The profile gains the privacy settings (appended, so nothing that reads it by name changes).
do $$
begin
  if not exists (select from pg_catalog.pg_attribute
                 where attrelid = 'chat.user_profile'::regclass and attname = 'share_presence' and not attisdropped) then
    alter type chat.user_profile
      add attribute share_read_receipts boolean,
      add attribute share_presence boolean;
  end if;
end
$$;

--! Included chat_private/live_signals.sql
-- Live signals (docs/realtime.md): typing, presence and read receipts, and who may see them.
--
-- Typing never touches the event log or its commit-order lock: chat.set_typing throttles in
-- chat_private.typing_throttle (unlogged: losing it in a crash only lets one extra typing through) and
-- sends one NOTIFY on its own channel, microchatter_typing. Presence is kept as leases: each server
-- process holds a row in presence_processes, renewed every second, and one lease per user with a stream
-- open on it; a user is online while a lease of a live process exists. Transitions are events in the
-- log (presence.changed), so they resume like every other event.

-- The privacy settings, on the user row: read together with it (require_user) at no extra cost.
alter table chat_private.users
  add column if not exists share_read_receipts boolean not null default true,
  add column if not exists share_presence boolean not null default true;

-- When the member reached read_seq (null: never read anything yet).
alter table chat_private.memberships add column if not exists read_at timestamptz;

create unlogged table if not exists chat_private.typing_throttle (
  conversation_id bigint not null,
  user_id text not null,
  forwarded_at timestamptz not null,
  primary key (conversation_id, user_id)
);

create unlogged table if not exists chat_private.presence_processes (
  process_id text primary key,
  renewed_at timestamptz not null default now(),
  expires_at timestamptz not null
);

create unlogged table if not exists chat_private.presence_leases (
  user_id text not null,
  process_id text not null references chat_private.presence_processes on delete cascade,
  primary key (user_id, process_id)
);
create index if not exists presence_leases_process_idx on chat_private.presence_leases (process_id);

-- The announced state: what get_presence answers and presence.changed said last.
create table if not exists chat_private.presence (
  user_id text primary key references chat_private.users on delete cascade,
  online boolean not null default false,
  last_seen_at timestamptz
);

-- Blocked in either direction.
create or replace function chat_private.blocked_between(a chat_private.users, b chat_private.users)
returns boolean
language sql
immutable
as $$
  select a.user_id = any(b.blocked) or b.user_id = any(a.blocked)
$$;

-- Who sees a member's conversation.read: the reader's own devices always; the other current members
-- only when the reader shares read receipts, and of them those who share theirs too (receipts are
-- mutual) and are not blocked either way.
create or replace function chat_private.receipt_audience(conversation_id bigint, reader text, current_member boolean)
returns text[]
language sql
stable
as $$
  select case when not current_member or not r.share_read_receipts then array[r.user_id] else
    array(
      select u.user_id from chat_private.conversations c
      join chat_private.users u on u.user_id = any(c.members)
      where c.conversation_id = receipt_audience.conversation_id
        and (u.user_id = r.user_id or (u.share_read_receipts and not chat_private.blocked_between(u, r)))
      order by u.user_id
    )
  end
  from chat_private.users r where r.user_id = reader
$$;

-- Who gets a user's typing in a conversation: the other current members not blocked either way.
create or replace function chat_private.typing_audience(c chat_private.conversations, typist chat_private.users)
returns text[]
language sql
stable
as $$
  select array(
    select u.user_id from chat_private.users u
    where u.user_id = any(c.members) and u.user_id <> typist.user_id and not chat_private.blocked_between(u, typist)
    order by u.user_id
  )
$$;

-- Who gets a user's presence.changed: the peers of their direct chats, when the user shares presence,
-- of them those who share theirs (presence is mutual) and are not blocked either way. Groups get no
-- presence events (docs/realtime.md): they ask get_presence for the members on screen.
create or replace function chat_private.presence_audience(subject chat_private.users)
returns text[]
language sql
stable
as $$
  select case when not subject.share_presence then '{}'::text[] else
    array(
      select p.user_id
      from chat_private.memberships m
      join chat_private.conversations c on c.conversation_id = m.conversation_id and c.kind = 'direct'
      join chat_private.users p on p.user_id = chat_private.peer(c, subject.user_id)
      where m.user_id = subject.user_id and p.share_presence and not chat_private.blocked_between(p, subject)
      order by p.user_id
    )
  end
$$;

-- Writes one presence.changed per changed user, all in one statement: the event lock is taken once and
-- held only for this insert and the commit (the caller is a single-statement call).
create or replace function chat_private.emit_presence(changed text[])
returns void
language plpgsql
volatile
as $$
declare
  v_rows jsonb;
begin
  select coalesce(jsonb_agg(jsonb_build_object(
           'recipients', to_jsonb(chat_private.presence_audience(u)),
           'payload', jsonb_build_object('user', p.user_id, 'online', p.online, 'last_seen_at', p.last_seen_at))
           order by p.user_id), '[]')
  into v_rows
  from chat_private.presence p join chat_private.users u on u.user_id = p.user_id
  where p.user_id = any(changed);
  if jsonb_array_length(v_rows) = 0 then
    return;
  end if;
  perform pg_advisory_xact_lock(1296253270, 1);
  insert into chat_private.events (position, type, recipients, payload)
  select nextval('chat_private.event_positions'), 'presence.changed',
         array(select jsonb_array_elements_text(r.value -> 'recipients')), r.value -> 'payload'
  from jsonb_array_elements(v_rows) with ordinality as r(value, n)
  where jsonb_array_length(r.value -> 'recipients') > 0
  order by r.n;
end
$$;

-- Locks the announced-presence rows of these users (creating missing ones), in a fixed order so that
-- processes syncing at the same time never deadlock. Every change of leases happens after this, so
-- a process deciding "no lease left: offline" cannot miss another process's new lease.
create or replace function chat_private.lock_presence(users text[])
returns void
language plpgsql
volatile
as $$
begin
  insert into chat_private.presence (user_id)
  select u.user_id from chat_private.users u where u.user_id = any(users)
  on conflict (user_id) do nothing;
  perform from chat_private.presence p where p.user_id = any(users) order by p.user_id for update;
end
$$;

-- Of these users, those now offline (no lease of a live process) but announced online: announce them
-- offline, last seen at `seen_at`. Returns them.
create or replace function chat_private.settle_offline(users text[], seen_at timestamptz[])
returns text[]
language sql
volatile
as $$
  with gone as (
    update chat_private.presence p set online = false, last_seen_at = s.seen_at
    from unnest(users, seen_at) as s(user_id, seen_at)
    where p.user_id = s.user_id and p.online and not exists (
      select from chat_private.presence_leases l
      join chat_private.presence_processes pp on pp.process_id = l.process_id
      where l.user_id = s.user_id and pp.expires_at > now()
    )
    returning p.user_id
  )
  select coalesce(array_agg(user_id), '{}') from gone
$$;
--! EndIncluded chat_private/live_signals.sql
--! Included chat_private/users.sql
-- The user row, or MCUNU when the site has not (or no longer) got such a user.
create or replace function chat_private.require_user(user_id text)
returns chat_private.users
language plpgsql
stable
as $$
#variable_conflict use_column
declare
  v_user chat_private.users;
begin
  select * into v_user from chat_private.users u where u.user_id = require_user.user_id;
  if not found then
    raise exception using errcode = 'MCUNU', message = format('unknown user %s', require_user.user_id);
  end if;
  return v_user;
end
$$;

-- A user id in Unicode normal form C. Sites' identity providers hand out the same name in NFC or
-- NFD ("é" as one code point or as "e" + U+0301); both must name one user, so every API function
-- passes the user ids it is given through this on entry, and ids are stored in NFC (docs/auth.md).
-- normalize() only works in a UTF8 database; in any other encoding the decomposed forms cannot occur
-- in the first place.
create or replace function chat_private.nfc(user_id text)
returns text
language sql
stable
parallel safe
as $$
  select case when pg_catalog.current_setting('server_encoding') = 'UTF8'
    then pg_catalog.normalize(user_id, 'NFC') else user_id end
$$;

-- The same for a list of user ids, in order; null stays null.
create or replace function chat_private.nfc(user_ids text[])
returns text[]
language sql
stable
parallel safe
as $$
  select case when user_ids is not null then
    array(select chat_private.nfc(u.id) from unnest(user_ids) with ordinality as u(id, position) order by u.position)
  end
$$;

-- A site user id, normalised to NFC: 1 to 200 characters, no control characters.
create or replace function chat_private.checked_user_id(user_id text)
returns text
language plpgsql
stable
as $$
begin
  user_id := chat_private.nfc(user_id);
  if user_id is null or length(user_id) not between 1 and 200 or user_id ~ '[[:cntrl:]]' then
    raise exception using errcode = 'MCARG',
      message = 'user_id must be 1 to 200 characters without control characters';
  end if;
  return user_id;
end
$$;

create or replace function chat_private.profile(u chat_private.users)
returns chat.user_profile
language sql
immutable
as $$
  select u.user_id, u.display_name, u.password_hash is not null, u.created_at, u.updated_at,
         u.share_read_receipts, u.share_presence
$$;
--! EndIncluded chat_private/users.sql
--! Included chat/me.sql
create or replace function chat.me(actor text)
returns chat.user_profile
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select chat_private.profile(chat_private.require_user(chat_private.nfc(actor)))
$$;
comment on function chat.me(text) is
  'The acting user''s profile: site user id, display name, whether a password is set, and the privacy '
  'settings (share_read_receipts, share_presence: update_settings). Errors: MCUNU.';
--! EndIncluded chat/me.sql
--! Included chat/mark_read.sql
create or replace function chat.mark_read(actor text, conversation_id bigint, seq bigint default null)
returns chat.conversation
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(mark_read.conversation_id, false);
  v_membership chat_private.memberships := chat_private.membership(chat_private.nfc(actor), mark_read.conversation_id, false);
  v_visible bigint := chat_private.visible_seq(v_conversation, v_membership);
begin
  actor := chat_private.nfc(actor);
  if mark_read.seq < 0 then
    raise exception using errcode = 'MCARG', message = 'seq must not be negative';
  end if;
  update chat_private.memberships m
  set read_seq = greatest(m.read_seq, least(coalesce(mark_read.seq, v_visible), v_visible)),
      read_at = case when least(coalesce(mark_read.seq, v_visible), v_visible) > m.read_seq then now() else m.read_at end
  where m.conversation_id = mark_read.conversation_id and m.user_id = actor
  returning * into v_membership;
  return chat_private.conversation_row(v_conversation, v_membership);
end
$$;
comment on function chat.mark_read(text, bigint, bigint) is
  'Marks a conversation read up to seq (default: its latest message). The read position never moves '
  'backwards. Returns the conversation with its new unread count. Errors: MCARG, MCNCV, MCNMB.';
--! EndIncluded chat/mark_read.sql
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
  if recipient is not null then
    v_conversation_id := chat_private.direct_conversation(actor, recipient);
  end if;

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
  'MCLIM, MCRAT.';
--! EndIncluded chat/send_message.sql
--! Included chat/set_typing.sql
create or replace function chat.set_typing(actor text, conversation_id bigint, typing boolean default true)
returns boolean
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(set_typing.conversation_id, false);
  v_membership chat_private.memberships;
  v_typist chat_private.users;
  v_forwarded boolean;
  v_payload jsonb;
begin
  actor := chat_private.nfc(actor);
  if set_typing.typing is null then
    raise exception using errcode = 'MCARG', message = 'typing must be true or false';
  end if;
  v_typist := chat_private.require_user(actor);
  v_membership := chat_private.membership(actor, set_typing.conversation_id, true);
  perform chat_private.require_not_blocked(v_conversation, v_typist);

  -- At most one forwarded call per 2 s; the window starts afresh once the typist has sent (or read)
  -- something since, so the next message's typing shows at once.
  insert into chat_private.typing_throttle as t (conversation_id, user_id, forwarded_at)
  values (set_typing.conversation_id, actor, clock_timestamp())
  on conflict (conversation_id, user_id) do update set forwarded_at = excluded.forwarded_at
  where t.forwarded_at <= clock_timestamp() - interval '2 seconds'
     or t.forwarded_at < v_membership.read_at
  returning true into v_forwarded;
  if v_forwarded is null then
    return false;
  end if;

  v_payload := jsonb_build_object('conversation_id', set_typing.conversation_id, 'user', actor,
    'typing', set_typing.typing,
    'expires_at', case when set_typing.typing then clock_timestamp() + interval '6 seconds' end);
  -- The audience rides along unless the group is large: a NOTIFY payload must stay under 8000 bytes, so
  -- for big groups each process looks it up (chat_server.typing_audience) instead.
  if cardinality(v_conversation.members) <= 100 then
    v_payload := v_payload || jsonb_build_object('recipients', chat_private.typing_audience(v_conversation, v_typist));
    if octet_length(v_payload::text) > 7000 then
      v_payload := v_payload - 'recipients';
    end if;
  end if;
  perform pg_notify('microchatter_typing', v_payload::text);
  return true;
end
$$;
comment on function chat.set_typing(text, bigint, boolean) is
  'Tells the other members you are typing (typing true, the default) or stopped (false): a typing event '
  '{conversation_id, user, typing, expires_at} on their live streams, never stored or replayed; it '
  'expires by itself at expires_at (6 s later), and sending a message ends it. At most one call per '
  'conversation every 2 seconds is forwarded (returns true); calls in between are accepted and dropped '
  '(false). Members only; refused in a direct chat where either side blocked the other, and users who '
  'blocked you (or whom you blocked) do not see your typing in groups. Errors: MCARG, MCNCV, MCNMB, MCBLK.';
--! EndIncluded chat/set_typing.sql
--! Included chat/get_presence.sql
create or replace function chat.get_presence(actor text, users text[])
returns table ("user" text, online boolean, last_seen_at timestamptz)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_actor chat_private.users;
begin
  actor := chat_private.nfc(actor);
  users := chat_private.nfc(users);
  if users is null then
    raise exception using errcode = 'MCARG', message = 'users must be an array of user ids';
  end if;
  if cardinality(users) > 100 then
    raise exception using errcode = 'MCLIM', message = 'at most 100 users per call';
  end if;
  v_actor := chat_private.require_user(actor);
  return query
  select u.user_id,
         coalesce(visible and p.online, false),
         case when visible and not coalesce(p.online, false) then p.last_seen_at end
  from (select distinct q.user_id from unnest(users) q(user_id)) q
  join chat_private.users u on u.user_id = q.user_id
  left join chat_private.presence p on p.user_id = u.user_id
  cross join lateral (
    select u.user_id = v_actor.user_id
      or (u.share_presence and v_actor.share_presence and not chat_private.blocked_between(u, v_actor)) as visible
  ) v
  where u.user_id = v_actor.user_id or exists (
    select from chat_private.memberships mine
    join chat_private.memberships theirs
      on theirs.conversation_id = mine.conversation_id and theirs.user_id = u.user_id and theirs.left_seq is null
    where mine.user_id = v_actor.user_id and mine.left_seq is null
  )
  order by u.user_id;
end
$$;
comment on function chat.get_presence(text, text[]) is
  'Whether these users (at most 100) are online, and when they were last seen (null while online, or '
  'when they hide it): users you share a conversation with, and yourself; others are left out, not an '
  'error. Someone who does not share presence, who blocked you or whom you blocked is always offline '
  'with no last_seen_at; if you do not share yours, everyone else looks that way to you. Errors: '
  'MCARG, MCLIM, MCUNU.';
--! EndIncluded chat/get_presence.sql
--! Included chat/list_read_positions.sql
create or replace function chat.list_read_positions(actor text, conversation_id bigint)
returns table ("user" text, read_seq bigint, read_at timestamptz)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(list_read_positions.conversation_id, false);
  v_reader chat_private.users;
begin
  actor := chat_private.nfc(actor);
  v_reader := chat_private.require_user(actor);
  perform chat_private.membership(actor, list_read_positions.conversation_id, true);
  return query
  select m.user_id, m.read_seq, m.read_at
  from chat_private.memberships m
  join chat_private.users u on u.user_id = m.user_id
  where m.conversation_id = list_read_positions.conversation_id and m.left_seq is null
    and (u.user_id = v_reader.user_id
         or (u.share_read_receipts and v_reader.share_read_receipts and not chat_private.blocked_between(u, v_reader)))
  order by m.user_id;
end
$$;
comment on function chat.list_read_positions(text, bigint) is
  'How far each current member has read: read_seq and when they got there (read_at; null if never). '
  'Leaves out members who do not share read receipts and members blocked either way; receipts are '
  'mutual, so if you do not share yours you see only your own. Members only. Errors: MCNCV, MCNMB, MCUNU.';
--! EndIncluded chat/list_read_positions.sql
--! Included chat/update_settings.sql
create or replace function chat.update_settings(
  actor text,
  share_read_receipts boolean default null,
  share_presence boolean default null
)
returns chat.user_profile
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_before chat_private.users;
  v_after chat_private.users;
begin
  actor := chat_private.nfc(actor);
  v_before := chat_private.require_user(actor);
  update chat_private.users u
  set share_read_receipts = coalesce(update_settings.share_read_receipts, u.share_read_receipts),
      share_presence = coalesce(update_settings.share_presence, u.share_presence),
      updated_at = case
        when (update_settings.share_read_receipts, update_settings.share_presence)
             is distinct from (null::boolean, null::boolean) then now() else u.updated_at end
  where u.user_id = actor
  returning * into v_after;
  -- Peers who saw this user online (or will now) hear of the change at once.
  if v_after.share_presence is distinct from v_before.share_presence
     and exists (select from chat_private.presence p where p.user_id = actor and p.online) then
    perform chat_private.emit('presence.changed',
      chat_private.presence_audience(case when v_after.share_presence then v_after else v_before end),
      jsonb_build_object('user', actor, 'online', v_after.share_presence, 'last_seen_at', null));
  end if;
  return chat_private.profile(v_after);
end
$$;
comment on function chat.update_settings(text, boolean, boolean) is
  'Your privacy settings; a null argument leaves that one unchanged. share_read_receipts false: your '
  'reads reach only your own devices and you appear in no one''s list_read_positions. share_presence '
  'false: you are always offline to others, with no last_seen_at. Both are mutual: not sharing also '
  'hides the others'' receipts, or presence, from you. Returns your profile with the settings. '
  'Errors: MCUNU.';
--! EndIncluded chat/update_settings.sql
--! Included chat_server/presence_sync.sql
create or replace function chat_server.presence_sync(
  process_id text,
  came text[],
  went text[] default '{}',
  went_at timestamptz[] default '{}'
)
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_online text[];
  v_offline text[];
begin
  came := chat_private.nfc(came);
  went := chat_private.nfc(went);
  perform chat_private.lock_presence(came || went);

  insert into chat_private.presence_leases (user_id, process_id)
  select u.user_id, presence_sync.process_id from chat_private.users u where u.user_id = any(came)
  on conflict do nothing;
  delete from chat_private.presence_leases l
  where l.process_id = presence_sync.process_id and l.user_id = any(went);

  with now_online as (
    update chat_private.presence p set online = true
    where p.user_id = any(came) and not p.online
    returning p.user_id
  )
  select coalesce(array_agg(user_id), '{}') into v_online from now_online;
  v_offline := chat_private.settle_offline(went, went_at);

  perform chat_private.emit_presence(v_online || v_offline);
  return cardinality(v_online) + cardinality(v_offline);
end
$$;
comment on function chat_server.presence_sync(text, text[], text[], timestamptz[]) is
  'For the server: users whose first stream opened on this process (came) and whose last stream closed '
  'on it a few seconds ago (went, with when: went_at). Takes or gives back their leases and announces '
  'presence.changed to those who see it, only for real transitions: online when nobody held a lease, '
  'offline when no live process holds one. Returns how many changed.';

create or replace function chat_server.presence_heartbeat(process_id text, lease_ms integer)
returns boolean
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_new boolean;
  v_users text[];
  v_seen timestamptz[];
  v_offline text[];
begin
  insert into chat_private.presence_processes as p (process_id, renewed_at, expires_at)
  values (presence_heartbeat.process_id, now(), now() + make_interval(secs => lease_ms / 1000.0))
  on conflict (process_id) do update set renewed_at = excluded.renewed_at, expires_at = excluded.expires_at
  returning (xmax = 0) into v_new;

  -- Processes that stopped renewing (killed, cut off, stopped): their users go offline unless they
  -- have a stream elsewhere.
  select array_agg(l.user_id order by l.user_id), array_agg(pp.renewed_at order by l.user_id)
  into v_users, v_seen
  from chat_private.presence_processes pp
  join chat_private.presence_leases l on l.process_id = pp.process_id
  where pp.expires_at <= now();
  if v_users is null then
    delete from chat_private.presence_processes pp where pp.expires_at <= now();
    return v_new;
  end if;
  perform chat_private.lock_presence(v_users);
  delete from chat_private.presence_processes pp where pp.expires_at <= now();
  v_offline := chat_private.settle_offline(v_users, v_seen);
  perform chat_private.emit_presence(v_offline);
  return v_new;
end
$$;
comment on function chat_server.presence_heartbeat(text, integer) is
  'For the server: renews this process''s presence lease for lease_ms, and expires the leases of '
  'processes that stopped renewing theirs (announcing their users offline unless they are online '
  'elsewhere). True when the process was not registered (new, or expired meanwhile): it must then '
  'sync all its users again.';

create or replace function chat_server.presence_release(process_id text, grace_ms integer)
returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  update chat_private.presence_processes p
  set expires_at = least(p.expires_at, now() + make_interval(secs => grace_ms / 1000.0))
  where p.process_id = presence_release.process_id
$$;
comment on function chat_server.presence_release(text, integer) is
  'For the server, at shutdown: its leases end after grace_ms, enough for its clients to reconnect to '
  'another process without being announced offline; any surviving process then expires them.';
--! EndIncluded chat_server/presence_sync.sql
--! Included chat_server/typing_audience.sql
create or replace function chat_server.typing_audience(conversation_id bigint, user_id text)
returns text[]
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select chat_private.typing_audience(c, u)
  from chat_private.conversations c, chat_private.users u
  where c.conversation_id = typing_audience.conversation_id and u.user_id = chat_private.nfc(typing_audience.user_id)
$$;
comment on function chat_server.typing_audience(bigint, text) is
  'For the server: who gets this user''s typing in this conversation, for a notification too large to '
  'carry the list itself (a big group).';
--! EndIncluded chat_server/typing_audience.sql
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
