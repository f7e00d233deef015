--! Previous: -
--! Hash: sha1:3a20cb24bacc5916dd3fd0e481ef87e0e4dcbe10
--! Message: chat core

-- Microchatter schema, version 1.
-- Idempotent: graphile-migrate may run this file many times while it is being written.

-- Three schemas: `chat` is the API a user acts through (every function takes the acting user first),
-- `chat_admin` is for the site's backend and DBAs, `chat_private` holds the tables and helpers.
create schema if not exists chat;
create schema if not exists chat_admin;
create schema if not exists chat_private;

-- The application role: it may execute the API functions and nothing else. The functions run as
-- security definer, so the role needs no rights on the tables. To run the server with least privilege,
-- migrate as the owner and serve as a login role granted microchatter_app (docs/operations.md).
do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'microchatter_app') then
    create role microchatter_app nologin;
  end if;
end
$$;

revoke all on schema chat_private from public;
grant usage on schema chat, chat_admin to microchatter_app;

-- bcrypt for passwords. pgcrypto may already be installed in some other schema of the site's
-- database; the two functions that use it get that schema on their search_path (see below).
create extension if not exists pgcrypto;

create table if not exists chat_private.users (
  user_id text primary key check (length(user_id) between 1 and 200),
  display_name text check (length(display_name) <= 200),
  password_hash text,
  -- A small set read together: whom this user has blocked.
  blocked text[] not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table if not exists chat_private.conversations (
  conversation_id bigint generated always as identity primary key,
  kind text not null check (kind in ('direct', 'group')),
  title text check (length(title) <= 200),
  -- Current members, read together with the conversation; per-member state is in memberships.
  members text[] not null,
  owner text,
  admins text[] not null default '{}',
  -- The two members of a direct chat in sorted order; unique, so racing first messages meet here.
  direct_pair text[] unique,
  last_seq bigint not null default 0,
  last_activity_at timestamptz not null default now(),
  created_at timestamptz not null default now()
);

-- Messages are rows keyed by (conversation, seq), never a growing array: appending to an array
-- rewrites it whole (DESIGN.md: 15.7 ms per append at 10k elements).
create table if not exists chat_private.messages (
  conversation_id bigint not null references chat_private.conversations on delete cascade,
  seq bigint not null,
  message_id bigint generated always as identity unique,
  sender text not null,
  body text not null,
  client_id text check (length(client_id) <= 200),
  sent_at timestamptz not null default now(),
  primary key (conversation_id, seq)
);
create unique index if not exists messages_client_id_key
  on chat_private.messages (conversation_id, sender, client_id) where client_id is not null;

-- One row per (conversation, user who is or was a member).
create table if not exists chat_private.memberships (
  conversation_id bigint not null references chat_private.conversations on delete cascade,
  user_id text not null references chat_private.users on delete cascade,
  -- Read position: only moves forward. Unread = visible messages after it (see chat_private.unread).
  read_seq bigint not null default 0,
  -- History up to here is gone for this member (deleted the chat, or joined after it).
  cleared_seq bigint not null default 0,
  -- Set when the member left or was removed: they keep what was visible until then, nothing later.
  left_seq bigint,
  muted boolean not null default false,
  -- Deleted by this member and out of their inbox until a newer message arrives.
  hidden boolean not null default false,
  -- Copy of the conversation's activity time, so a user's inbox is one index range scan.
  last_activity_at timestamptz not null default now(),
  primary key (conversation_id, user_id)
);
create index if not exists memberships_inbox_idx
  on chat_private.memberships (user_id, last_activity_at desc, conversation_id desc);

--! Included chat/types.sql
-- The shapes the API returns. Dropped and recreated with everything that uses them, which the
-- migration recreates right after.
drop type if exists chat.message cascade;
create type chat.message as (
  id bigint,
  conversation_id bigint,
  seq bigint,
  sender text,
  body text,
  client_id text,
  sent_at timestamptz
);
comment on type chat.message is 'One message. seq numbers a conversation''s messages 1, 2, 3… in send order, without gaps.';

drop type if exists chat.conversation cascade;
create type chat.conversation as (
  conversation_id bigint,
  kind text,
  title text,
  peer text,
  members text[],
  owner text,
  admins text[],
  last_message jsonb,
  unread bigint,
  read_seq bigint,
  last_seq bigint,
  muted boolean,
  is_member boolean,
  last_activity_at timestamptz,
  created_at timestamptz,
  cursor text
);
comment on type chat.conversation is
  'A conversation as one member sees it. kind is direct or group; for a direct chat, peer is the other '
  'user and title their display name. last_message and unread count only what this member may see; '
  'cursor is the value to pass as `before` for the next inbox page.';

drop type if exists chat.user_profile cascade;
create type chat.user_profile as (
  user_id text,
  display_name text,
  has_password boolean,
  created_at timestamptz,
  updated_at timestamptz
);
comment on type chat.user_profile is 'A user as mirrored from the site: the site''s user id and a display name.';
--! EndIncluded chat/types.sql
--! Included chat_private/setting.sql
-- Tunable limits are custom settings a DBA can change per database or role, e.g.
--   alter database microchatter set microchatter.max_body_length = 8000;
create or replace function chat_private.setting(name text, fallback integer)
returns integer
language sql
stable
as $$
  select coalesce(nullif(current_setting('microchatter.' || name, true), '')::integer, fallback)
$$;
--! EndIncluded chat_private/setting.sql
--! Included chat_private/password.sql
-- Password hashing. bcrypt through pgcrypto; unsalted MD5 hex is accepted only as an imported legacy
-- hash and is replaced by bcrypt on the first successful login (chat_admin.check_password).

create or replace function chat_private.hash_password(password text)
returns text
language sql
volatile
strict
as $$
  select crypt(password, gen_salt('bf', 10))
$$;

create or replace function chat_private.password_matches(password text, password_hash text)
returns boolean
language sql
stable
strict
as $$
  select case
    when password_hash ~ '^[0-9a-f]{32}$' then md5(password) = password_hash
    else crypt(password, password_hash) = password_hash
  end
$$;

-- pgcrypto lives in whatever schema the database has it in; pin that schema on the two functions
-- that call it, so neither depends on the caller's search_path.
do $$
declare
  v_schema text := (
    select n.nspname
    from pg_catalog.pg_extension e
    join pg_catalog.pg_namespace n on n.oid = e.extnamespace
    where e.extname = 'pgcrypto'
  );
begin
  execute format('alter function chat_private.hash_password(text) set search_path = pg_catalog, %I, pg_temp', v_schema);
  execute format('alter function chat_private.password_matches(text, text) set search_path = pg_catalog, %I, pg_temp', v_schema);
end
$$;

-- Normalises an imported hash, or raises MCHSH: bcrypt ($2a$, $2b$, $2y$) or 32 hex digits of MD5.
create or replace function chat_private.checked_password_hash(password_hash text)
returns text
language plpgsql
immutable
as $$
begin
  if password_hash is null then
    return null;
  elsif password_hash ~ '^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$' then
    return password_hash;
  elsif password_hash ~ '^[0-9a-fA-F]{32}$' then
    return lower(password_hash);
  end if;
  raise exception using errcode = 'MCHSH',
    message = 'password_hash must be a bcrypt hash ($2a$/$2b$/$2y$) or an unsalted MD5 hex digest';
end
$$;
--! EndIncluded chat_private/password.sql
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

-- A site user id: 1 to 200 characters, no control characters.
create or replace function chat_private.checked_user_id(user_id text)
returns text
language plpgsql
immutable
as $$
begin
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
  select u.user_id, u.display_name, u.password_hash is not null, u.created_at, u.updated_at
$$;
--! EndIncluded chat_private/users.sql
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
--! Included chat_private/conversation_row.sql
create or replace function chat_private.message_row(msg chat_private.messages)
returns chat.message
language sql
immutable
as $$
  select msg.message_id, msg.conversation_id, msg.seq, msg.sender, msg.body, msg.client_id, msg.sent_at
$$;

-- Keyset cursor of the inbox: activity time in epoch microseconds and the conversation id.
create or replace function chat_private.inbox_cursor(last_activity_at timestamptz, conversation_id bigint)
returns text
language sql
immutable
as $$
  select (extract(epoch from last_activity_at) * 1000000)::bigint || ':' || conversation_id
$$;

-- A conversation as member m sees it.
create or replace function chat_private.conversation_row(c chat_private.conversations, m chat_private.memberships)
returns chat.conversation
language sql
stable
as $$
  select
    c.conversation_id,
    c.kind,
    case when c.kind = 'direct' then coalesce(p.display_name, chat_private.peer(c, m.user_id)) else c.title end,
    chat_private.peer(c, m.user_id),
    c.members,
    c.owner,
    c.admins,
    (
      select to_jsonb(chat_private.message_row(msg))
      from chat_private.messages msg
      where msg.conversation_id = c.conversation_id
        and msg.seq = chat_private.visible_seq(c, m)
        and msg.seq > m.cleared_seq
    ),
    chat_private.unread(c, m),
    m.read_seq,
    chat_private.visible_seq(c, m),
    m.muted,
    m.left_seq is null,
    m.last_activity_at,
    c.created_at,
    chat_private.inbox_cursor(m.last_activity_at, c.conversation_id)
  from (select) as one
  left join chat_private.users p on p.user_id = chat_private.peer(c, m.user_id)
$$;
--! EndIncluded chat_private/conversation_row.sql
--! Included chat_private/direct_conversation.sql
-- The direct conversation between two users, created on the first message. The sorted pair is
-- unique, so when many first messages race, one insert wins and the others wait for it and find it.
create or replace function chat_private.direct_conversation(actor text, recipient text)
returns bigint
language plpgsql
volatile
as $$
declare
  v_pair text[] := array[least(actor collate "C", recipient collate "C"), greatest(actor collate "C", recipient collate "C")];
  v_conversation_id bigint;
begin
  select c.conversation_id into v_conversation_id from chat_private.conversations c where c.direct_pair = v_pair;
  if found then
    return v_conversation_id;
  end if;
  if actor = recipient then
    raise exception using errcode = 'MCSLF', message = 'you cannot send a message to yourself';
  end if;
  perform chat_private.require_user(recipient);

  insert into chat_private.conversations (kind, members, direct_pair)
  values ('direct', v_pair, v_pair)
  on conflict (direct_pair) do nothing
  returning conversation_id into v_conversation_id;

  if v_conversation_id is null then
    -- Another transaction created it first; it has committed by now.
    select c.conversation_id into v_conversation_id from chat_private.conversations c where c.direct_pair = v_pair;
  else
    insert into chat_private.memberships (conversation_id, user_id)
    select v_conversation_id, unnest(v_pair);
  end if;
  return v_conversation_id;
end
$$;
--! EndIncluded chat_private/direct_conversation.sql
--! Included chat_private/group_rules.sql
-- Group rules: the owner (creator) and the admins the owner names manage the group; any member may
-- send and leave. See docs/sql-api.md.

-- A group title or display name: at most 200 characters, no control characters; required when
-- `required`. Returns it trimmed.
create or replace function chat_private.checked_label(value text, what text, required boolean)
returns text
language plpgsql
immutable
as $$
begin
  value := btrim(value);
  if value = '' then
    value := null;
  end if;
  if value is null and required then
    raise exception using errcode = 'MCARG', message = format('%s is required', what);
  end if;
  if length(value) > 200 or value ~ '[[:cntrl:]]' then
    raise exception using errcode = 'MCARG',
      message = format('%s must be at most 200 characters without control characters', what);
  end if;
  return value;
end
$$;

create or replace function chat_private.require_group_admin(c chat_private.conversations, actor text)
returns void
language plpgsql
immutable
as $$
begin
  if c.kind <> 'group' then
    raise exception using errcode = 'MCKND', message = 'this is a direct conversation, not a group';
  end if;
  if not actor = any(c.admins) then
    raise exception using errcode = 'MCFRB', message = 'only the group''s owner and admins may do this';
  end if;
end
$$;

-- Adds users to a group (new, or back after leaving). They see messages from now on, not the
-- history before they joined. Users already in the group are skipped. Returns the updated row.
create or replace function chat_private.join_group(c chat_private.conversations, actor text, users text[])
returns chat_private.conversations
language plpgsql
volatile
as $$
declare
  v_new text[];
  v_unknown text;
  v_blocker text;
  v_max integer := chat_private.setting('max_group_members', 1000);
begin
  if users is null then
    raise exception using errcode = 'MCARG', message = 'members must be a list of user ids';
  end if;
  if cardinality(users) > v_max then
    raise exception using errcode = 'MCFUL', message = format('a group has at most %s members', v_max);
  end if;
  select coalesce(array_agg(x.u order by x.first), '{}') into v_new
  from (select u, min(i) as first from unnest(users) with ordinality as t(u, i) where u is not null group by u) x
  where not x.u = any(c.members);

  select u into v_unknown from unnest(v_new) u
  where not exists (select from chat_private.users usr where usr.user_id = u) limit 1;
  if found then
    raise exception using errcode = 'MCUNU', message = format('unknown user %s', v_unknown);
  end if;
  select usr.user_id into v_blocker from chat_private.users usr
  where usr.user_id = any(v_new) and actor = any(usr.blocked) limit 1;
  if found then
    raise exception using errcode = 'MCBLK', message = format('%s does not accept messages from you', v_blocker);
  end if;
  if cardinality(c.members) + cardinality(v_new) > v_max then
    raise exception using errcode = 'MCFUL', message = format('a group has at most %s members', v_max);
  end if;

  insert into chat_private.memberships as m (conversation_id, user_id, read_seq, cleared_seq)
  select c.conversation_id, u, c.last_seq, c.last_seq from unnest(v_new) u
  on conflict (conversation_id, user_id) do update
    set read_seq = excluded.read_seq, cleared_seq = excluded.cleared_seq, left_seq = null,
        hidden = false, last_activity_at = now();

  update chat_private.conversations cv set members = cv.members || v_new
  where cv.conversation_id = c.conversation_id
  returning * into c;
  return c;
end
$$;

-- Takes a user out of a group: they keep what they saw until now and get nothing later. When the
-- owner goes, the longest-standing admin, else the longest-standing member, becomes owner.
create or replace function chat_private.leave_group(c chat_private.conversations, leaver text)
returns chat_private.conversations
language plpgsql
volatile
as $$
declare
  v_members text[] := array_remove(c.members, leaver);
  v_admins text[] := array_remove(c.admins, leaver);
  v_owner text := c.owner;
begin
  if c.kind <> 'group' then
    raise exception using errcode = 'MCKND', message = 'a direct conversation cannot be left; delete it instead';
  end if;
  update chat_private.memberships m set left_seq = c.last_seq
  where m.conversation_id = c.conversation_id and m.user_id = leaver and m.left_seq is null;

  if v_owner = leaver then
    v_owner := coalesce(v_admins[1], v_members[1]);
    if v_owner is not null and not v_owner = any(v_admins) then
      v_admins := array_prepend(v_owner, v_admins);
    end if;
  end if;
  update chat_private.conversations cv set members = v_members, admins = v_admins, owner = v_owner
  where cv.conversation_id = c.conversation_id
  returning * into c;
  return c;
end
$$;
--! EndIncluded chat_private/group_rules.sql
--! Included chat/me.sql
create or replace function chat.me(actor text)
returns chat.user_profile
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select chat_private.profile(chat_private.require_user(actor))
$$;
comment on function chat.me(text) is
  'The acting user''s profile: site user id, display name, whether a password is set. Errors: MCUNU.';
--! EndIncluded chat/me.sql
--! Included chat/send_message.sql
create or replace function chat.send_message(
  actor text,
  recipient text default null,
  conversation_id bigint default null,
  body text default null,
  client_id text default null
)
returns chat.message
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_max_length integer := chat_private.setting('max_body_length', 4000);
  v_conversation_id bigint := send_message.conversation_id;
  v_conversation chat_private.conversations;
  v_sender chat_private.users;
  v_peer chat_private.users;
  v_message chat_private.messages;
begin
  if send_message.body is null or send_message.body !~ '\S' then
    raise exception using errcode = 'MCEMB', message = 'message body is empty';
  end if;
  if length(send_message.body) > v_max_length then
    raise exception using errcode = 'MCLNG', message = format('message body is longer than %s characters', v_max_length);
  end if;
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
  perform chat_private.membership(actor, v_conversation_id, true);
  if v_conversation.kind = 'direct' then
    v_peer := chat_private.require_user(chat_private.peer(v_conversation, actor));
    if actor = any(v_peer.blocked) then
      raise exception using errcode = 'MCBLK', message = format('%s does not accept messages from you', v_peer.user_id);
    end if;
    if v_peer.user_id = any(v_sender.blocked) then
      raise exception using errcode = 'MCBLK', message = format('you have blocked %s; unblock them to send', v_peer.user_id);
    end if;
  end if;

  -- A retry with the same client_id returns the message it already created.
  if send_message.client_id is not null then
    select * into v_message from chat_private.messages msg
    where msg.conversation_id = v_conversation_id and msg.sender = actor and msg.client_id = send_message.client_id;
    if found then
      return chat_private.message_row(v_message);
    end if;
  end if;

  update chat_private.conversations c set last_seq = c.last_seq + 1, last_activity_at = now()
  where c.conversation_id = v_conversation_id
  returning * into v_conversation;

  insert into chat_private.messages (conversation_id, seq, sender, body, client_id)
  values (v_conversation_id, v_conversation.last_seq, actor, send_message.body, send_message.client_id)
  returning * into v_message;

  -- Every current member sees new activity (a deleted chat comes back); the sender has read it.
  update chat_private.memberships m
  set last_activity_at = v_conversation.last_activity_at,
      hidden = false,
      read_seq = case when m.user_id = actor then v_message.seq else m.read_seq end
  where m.conversation_id = v_conversation_id and m.left_seq is null;

  return chat_private.message_row(v_message);
end
$$;
comment on function chat.send_message(text, text, bigint, text, text) is
  'Sends a message, to a user (recipient: starts or continues your direct chat with them) or into a '
  'conversation you are a member of (conversation_id). Give exactly one of the two. body: 1 to 4000 '
  'characters (microchatter.max_body_length). client_id: your own id for the message; sending again with '
  'the same client_id returns the first message instead of storing a second. Returns the message. '
  'Errors: MCEMB, MCLNG, MCARG, MCUNU, MCSLF, MCNCV, MCNMB, MCBLK.';
--! EndIncluded chat/send_message.sql
--! Included chat/list_conversations.sql
create or replace function chat.list_conversations(actor text, before text default null, "limit" integer default 20)
returns setof chat.conversation
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_blocked text[];
  v_before_at timestamptz := 'infinity';
  v_before_id bigint := 9223372036854775807;
begin
  if "limit" is null or "limit" not between 1 and 200 then
    raise exception using errcode = 'MCLIM', message = 'limit must be between 1 and 200';
  end if;
  if before is not null then
    if before !~ '^-?\d{1,18}:\d{1,18}$' then
      raise exception using errcode = 'MCARG', message = 'before must be the cursor of a conversation from the previous page';
    end if;
    v_before_at := 'epoch'::timestamptz + split_part(before, ':', 1)::bigint * interval '1 microsecond';
    v_before_id := split_part(before, ':', 2)::bigint;
  end if;
  v_blocked := (chat_private.require_user(actor)).blocked;

  -- The page is chosen on the inbox index first; only its rows are then dressed up.
  return query
  select r.*
  from (
    select c, m
    from chat_private.memberships m
    join chat_private.conversations c on c.conversation_id = m.conversation_id
    where m.user_id = actor
      and (m.last_activity_at, m.conversation_id) < (v_before_at, v_before_id)
      and chat_private.in_inbox(c, m, v_blocked)
    order by m.last_activity_at desc, m.conversation_id desc
    limit "limit"
  ) page
  cross join lateral chat_private.conversation_row(page.c, page.m) r
  order by r.last_activity_at desc, r.conversation_id desc;
end
$$;
comment on function chat.list_conversations(text, text, integer) is
  'Your inbox, most recent activity first: each conversation with its kind, title (for a direct chat the '
  'other user), members, last message and unread count. Page with before = the cursor of the last '
  'conversation of the previous page; limit 1 to 200 (default 20). Chats you deleted stay out until a '
  'newer message arrives; direct chats with users you blocked stay out until you unblock them. '
  'Errors: MCLIM, MCARG, MCUNU.';
--! EndIncluded chat/list_conversations.sql
--! Included chat/get_conversation.sql
create or replace function chat.get_conversation(actor text, conversation_id bigint)
returns chat.conversation
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select chat_private.conversation_row(
    chat_private.conversation(conversation_id, false),
    chat_private.membership(actor, conversation_id, false)
  )
$$;
comment on function chat.get_conversation(text, bigint) is
  'One conversation as it appears in your inbox (also one you left or deleted). Errors: MCNCV, MCNMB.';
--! EndIncluded chat/get_conversation.sql
--! Included chat/list_messages.sql
create or replace function chat.list_messages(
  actor text,
  conversation_id bigint,
  before_seq bigint default null,
  after_seq bigint default null,
  "limit" integer default 50
)
returns setof chat.message
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations;
  v_membership chat_private.memberships;
  v_after bigint;
  v_before bigint;
begin
  if "limit" is null or "limit" not between 1 and 200 then
    raise exception using errcode = 'MCLIM', message = 'limit must be between 1 and 200';
  end if;
  v_conversation := chat_private.conversation(list_messages.conversation_id, false);
  v_membership := chat_private.membership(actor, list_messages.conversation_id, false);
  -- Nothing from before the member deleted the chat (or joined), nothing after they left.
  v_after := greatest(v_membership.cleared_seq, after_seq);
  v_before := least(chat_private.visible_seq(v_conversation, v_membership) + 1, before_seq);

  if after_seq is not null and before_seq is null then
    -- Paging forward: the `limit` messages right after after_seq.
    return query
    select page.* from (
      select (chat_private.message_row(msg)).*
      from chat_private.messages msg
      where msg.conversation_id = list_messages.conversation_id and msg.seq > v_after and msg.seq < v_before
      order by msg.seq
      limit "limit"
    ) page
    order by page.seq desc;
  else
    return query
    select (chat_private.message_row(msg)).*
    from chat_private.messages msg
    where msg.conversation_id = list_messages.conversation_id and msg.seq > v_after and msg.seq < v_before
    order by msg.seq desc
    limit "limit";
  end if;
end
$$;
comment on function chat.list_messages(text, bigint, bigint, bigint, integer) is
  'A page of a conversation''s messages, newest first. Without before_seq/after_seq: the latest messages. '
  'before_seq: the `limit` messages just before it (page back with the smallest seq you have). '
  'after_seq: the `limit` messages just after it (catch up with the largest seq you have). limit 1 to 200 '
  '(default 50). Never shows what you deleted, or what was sent before you joined or after you left. '
  'Errors: MCLIM, MCNCV, MCNMB.';
--! EndIncluded chat/list_messages.sql
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
  v_membership chat_private.memberships := chat_private.membership(actor, mark_read.conversation_id, false);
  v_visible bigint := chat_private.visible_seq(v_conversation, v_membership);
begin
  if mark_read.seq < 0 then
    raise exception using errcode = 'MCARG', message = 'seq must not be negative';
  end if;
  update chat_private.memberships m
  set read_seq = greatest(m.read_seq, least(coalesce(mark_read.seq, v_visible), v_visible))
  where m.conversation_id = mark_read.conversation_id and m.user_id = actor
  returning * into v_membership;
  return chat_private.conversation_row(v_conversation, v_membership);
end
$$;
comment on function chat.mark_read(text, bigint, bigint) is
  'Marks a conversation read up to seq (default: its latest message). The read position never moves '
  'backwards. Returns the conversation with its new unread count. Errors: MCARG, MCNCV, MCNMB.';
--! EndIncluded chat/mark_read.sql
--! Included chat/unread_count.sql
create or replace function chat.unread_count(actor text, out total bigint, out conversations jsonb)
returns record
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select
    coalesce(sum(x.unread) filter (where not x.muted), 0)::bigint,
    coalesce(jsonb_agg(jsonb_build_object('conversation_id', x.conversation_id, 'unread', x.unread, 'muted', x.muted)
      order by x.conversation_id) , '[]')
  from (
    select m.conversation_id, m.muted, chat_private.unread(c, m) as unread
    from chat_private.users u
    join chat_private.memberships m on m.user_id = u.user_id
    join chat_private.conversations c on c.conversation_id = m.conversation_id
    where u.user_id = actor and chat_private.in_inbox(c, m, u.blocked)
  ) x
  where x.unread > 0
$$;
comment on function chat.unread_count(text) is
  'Your unread messages: total (muted conversations not counted) and, per conversation that has any, '
  '{conversation_id, unread, muted}. Counts only conversations your inbox shows.';
--! EndIncluded chat/unread_count.sql
--! Included chat/set_muted.sql
create or replace function chat.set_muted(actor text, conversation_id bigint, muted boolean default true)
returns chat.conversation
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(set_muted.conversation_id, false);
  v_membership chat_private.memberships := chat_private.membership(actor, set_muted.conversation_id, false);
begin
  update chat_private.memberships m set muted = coalesce(set_muted.muted, true)
  where m.conversation_id = set_muted.conversation_id and m.user_id = actor
  returning * into v_membership;
  return chat_private.conversation_row(v_conversation, v_membership);
end
$$;
comment on function chat.set_muted(text, bigint, boolean) is
  'Mutes (or with muted = false unmutes) a conversation for you: its messages still arrive and count '
  'per conversation, but not in unread_count''s total. Errors: MCNCV, MCNMB.';
--! EndIncluded chat/set_muted.sql
--! Included chat/block_user.sql
create or replace function chat.block_user(actor text, "user" text)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform chat_private.require_user(actor);
  if actor = "user" then
    raise exception using errcode = 'MCSLF', message = 'you cannot block yourself';
  end if;
  perform chat_private.require_user("user");
  update chat_private.users u set blocked = array_append(u.blocked, "user")
  where u.user_id = actor and not "user" = any(u.blocked);
end
$$;
comment on function chat.block_user(text, text) is
  'Blocks a user: they can no longer send you direct messages, and your direct chat with them leaves your '
  'inbox and unread counts (its history is kept and comes back when you unblock). You cannot message '
  'them either until you unblock. In groups, blocking only stops them adding you to groups; group '
  'messages are shared by all members and still reach you. Blocking twice is harmless. Errors: MCSLF, MCUNU.';
--! EndIncluded chat/block_user.sql
--! Included chat/unblock_user.sql
create or replace function chat.unblock_user(actor text, "user" text)
returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  update chat_private.users u set blocked = array_remove(u.blocked, "user")
  where u.user_id = (chat_private.require_user(actor)).user_id and "user" = any(u.blocked)
$$;
comment on function chat.unblock_user(text, text) is
  'Unblocks a user; your direct chat with them, with its history, is back in your inbox. Unblocking a '
  'user you had not blocked does nothing. Errors: MCUNU.';
--! EndIncluded chat/unblock_user.sql
--! Included chat/list_blocked.sql
create or replace function chat.list_blocked(actor text)
returns table (user_id text, display_name text)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select b.user_id, usr.display_name
  from unnest((chat_private.require_user(actor)).blocked) with ordinality as b(user_id, position)
  left join chat_private.users usr on usr.user_id = b.user_id
  order by b.position
$$;
comment on function chat.list_blocked(text) is 'The users you blocked, in the order you blocked them. Errors: MCUNU.';
--! EndIncluded chat/list_blocked.sql
--! Included chat/delete_conversation.sql
create or replace function chat.delete_conversation(actor text, conversation_id bigint)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(delete_conversation.conversation_id, false);
  v_membership chat_private.memberships := chat_private.membership(actor, delete_conversation.conversation_id, false);
  v_visible bigint := chat_private.visible_seq(v_conversation, v_membership);
begin
  update chat_private.memberships m
  set cleared_seq = greatest(m.cleared_seq, v_visible), read_seq = greatest(m.read_seq, v_visible), hidden = true
  where m.conversation_id = delete_conversation.conversation_id and m.user_id = actor;
end
$$;
comment on function chat.delete_conversation(text, bigint) is
  'Deletes a conversation for you only: its history so far is gone for you and it leaves your inbox. If a '
  'new message arrives it comes back, showing only the messages after the deletion. The other members '
  'keep everything. Deleting a group does not leave it. Errors: MCNCV, MCNMB.';
--! EndIncluded chat/delete_conversation.sql
--! Included chat/create_group.sql
create or replace function chat.create_group(actor text, title text, members text[] default '{}')
returns chat.conversation
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_conversation chat_private.conversations;
begin
  perform chat_private.require_user(actor);
  insert into chat_private.conversations (kind, title, members, owner, admins)
  values ('group', chat_private.checked_label(title, 'title', true), '{}', actor, array[actor])
  returning * into v_conversation;
  v_conversation := chat_private.join_group(v_conversation, actor, array_prepend(actor, members));
  return chat_private.conversation_row(v_conversation, chat_private.membership(actor, v_conversation.conversation_id, true));
end
$$;
comment on function chat.create_group(text, text, text[]) is
  'Creates a group conversation with a title (1 to 200 characters) and you as its owner, and adds the '
  'given members (at most 1000 in all, microchatter.max_group_members). A user who blocked you cannot be '
  'added. Returns the group. Errors: MCARG, MCUNU, MCBLK, MCFUL.';
--! EndIncluded chat/create_group.sql
--! Included chat/add_members.sql
create or replace function chat.add_members(actor text, conversation_id bigint, members text[])
returns chat.conversation
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(add_members.conversation_id, true);
  v_membership chat_private.memberships := chat_private.membership(actor, add_members.conversation_id, true);
begin
  perform chat_private.require_group_admin(v_conversation, actor);
  v_conversation := chat_private.join_group(v_conversation, actor, add_members.members);
  return chat_private.conversation_row(v_conversation, v_membership);
end
$$;
comment on function chat.add_members(text, bigint, text[]) is
  'Adds users to a group (owner and admins only). New members see the messages sent from now on, not '
  'the history before; users already in the group are skipped; former members come back. '
  'Errors: MCNCV, MCNMB, MCKND, MCFRB, MCUNU, MCBLK, MCFUL.';
--! EndIncluded chat/add_members.sql
--! Included chat/remove_member.sql
create or replace function chat.remove_member(actor text, conversation_id bigint, "user" text)
returns chat.conversation
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(remove_member.conversation_id, true);
  v_membership chat_private.memberships := chat_private.membership(actor, remove_member.conversation_id, true);
begin
  perform chat_private.require_group_admin(v_conversation, actor);
  if not "user" = any(v_conversation.members) then
    raise exception using errcode = 'MCNMB',
      message = format('%s is not a member of conversation %s', "user", remove_member.conversation_id);
  end if;
  if "user" = v_conversation.owner or ("user" = any(v_conversation.admins) and actor <> v_conversation.owner) then
    raise exception using errcode = 'MCFRB', message = 'admins can be removed only by the owner, and the owner by nobody';
  end if;
  v_conversation := chat_private.leave_group(v_conversation, "user");
  return chat_private.conversation_row(v_conversation, v_membership);
end
$$;
comment on function chat.remove_member(text, bigint, text) is
  'Removes a member from a group. The owner may remove anyone else, admins may remove members who are not '
  'admins. The removed member keeps the history up to now and gets nothing later. To remove yourself, use '
  'leave_conversation. Errors: MCNCV, MCNMB, MCKND, MCFRB.';
--! EndIncluded chat/remove_member.sql
--! Included chat/leave_conversation.sql
create or replace function chat.leave_conversation(actor text, conversation_id bigint)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(leave_conversation.conversation_id, true);
begin
  perform chat_private.membership(actor, leave_conversation.conversation_id, true);
  perform chat_private.leave_group(v_conversation, actor);
end
$$;
comment on function chat.leave_conversation(text, bigint) is
  'Leaves a group. You keep the history up to now (until you delete it) and receive nothing later. If '
  'you owned the group, its longest-standing admin (else member) becomes owner. A direct chat cannot be '
  'left: delete it. Errors: MCNCV, MCNMB, MCKND.';
--! EndIncluded chat/leave_conversation.sql
--! Included chat/rename_conversation.sql
create or replace function chat.rename_conversation(actor text, conversation_id bigint, title text)
returns chat.conversation
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(rename_conversation.conversation_id, true);
  v_membership chat_private.memberships := chat_private.membership(actor, rename_conversation.conversation_id, true);
begin
  perform chat_private.require_group_admin(v_conversation, actor);
  update chat_private.conversations c set title = chat_private.checked_label(rename_conversation.title, 'title', true)
  where c.conversation_id = rename_conversation.conversation_id
  returning * into v_conversation;
  return chat_private.conversation_row(v_conversation, v_membership);
end
$$;
comment on function chat.rename_conversation(text, bigint, text) is
  'Renames a group (owner and admins only); title 1 to 200 characters. Errors: MCARG, MCNCV, MCNMB, MCKND, MCFRB.';
--! EndIncluded chat/rename_conversation.sql
--! Included chat/set_admin.sql
create or replace function chat.set_admin(actor text, conversation_id bigint, "user" text, admin boolean default true)
returns chat.conversation
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(set_admin.conversation_id, true);
  v_membership chat_private.memberships := chat_private.membership(actor, set_admin.conversation_id, true);
begin
  if v_conversation.kind <> 'group' then
    raise exception using errcode = 'MCKND', message = 'this is a direct conversation, not a group';
  end if;
  if actor is distinct from v_conversation.owner then
    raise exception using errcode = 'MCFRB', message = 'only the group''s owner may name admins';
  end if;
  if not "user" = any(v_conversation.members) then
    raise exception using errcode = 'MCNMB',
      message = format('%s is not a member of conversation %s', "user", set_admin.conversation_id);
  end if;
  if "user" = v_conversation.owner then
    raise exception using errcode = 'MCFRB', message = 'the owner is always an admin';
  end if;
  update chat_private.conversations c
  set admins = case when coalesce(set_admin.admin, true)
                 then case when "user" = any(c.admins) then c.admins else c.admins || "user" end
                 else array_remove(c.admins, "user") end
  where c.conversation_id = set_admin.conversation_id
  returning * into v_conversation;
  return chat_private.conversation_row(v_conversation, v_membership);
end
$$;
comment on function chat.set_admin(text, bigint, text, boolean) is
  'Makes a member an admin of a group, or with admin = false an ordinary member again (owner only). '
  'Errors: MCNCV, MCNMB, MCKND, MCFRB.';
--! EndIncluded chat/set_admin.sql
--! Included chat_admin/create_user.sql
create or replace function chat_admin.create_user(
  user_id text,
  display_name text default null,
  password text default null,
  password_hash text default null
)
returns chat.user_profile
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_user chat_private.users;
begin
  if password is not null and create_user.password_hash is not null then
    raise exception using errcode = 'MCARG', message = 'give password or password_hash, not both';
  end if;
  insert into chat_private.users (user_id, display_name, password_hash)
  values (
    chat_private.checked_user_id(create_user.user_id),
    chat_private.checked_label(create_user.display_name, 'display_name', false),
    coalesce(chat_private.hash_password(password), chat_private.checked_password_hash(create_user.password_hash))
  )
  on conflict (user_id) do nothing
  returning * into v_user;
  if not found then
    raise exception using errcode = 'MCEXS', message = format('user %s already exists', create_user.user_id);
  end if;
  return chat_private.profile(v_user);
end
$$;
comment on function chat_admin.create_user(text, text, text, text) is
  'Creates the mirror of a site user: user_id is the site''s own id (1 to 200 characters). Optional '
  'display_name, and a password (stored as bcrypt) or an existing password_hash (bcrypt, or legacy '
  'unsalted MD5 hex) for HTTP Basic logins. Errors: MCARG, MCHSH, MCEXS.';
--! EndIncluded chat_admin/create_user.sql
--! Included chat_admin/update_user.sql
create or replace function chat_admin.update_user(
  user_id text,
  display_name text default null,
  password text default null,
  password_hash text default null,
  remove_password boolean default false
)
returns chat.user_profile
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_user chat_private.users;
begin
  if num_nonnulls(password, update_user.password_hash) + (coalesce(remove_password, false))::int > 1 then
    raise exception using errcode = 'MCARG', message = 'give at most one of password, password_hash, remove_password';
  end if;
  update chat_private.users u
  set display_name = coalesce(chat_private.checked_label(update_user.display_name, 'display_name', false), u.display_name),
      password_hash = case
        when remove_password then null
        else coalesce(chat_private.hash_password(password), chat_private.checked_password_hash(update_user.password_hash), u.password_hash)
      end,
      updated_at = now()
  where u.user_id = update_user.user_id
  returning * into v_user;
  if not found then
    raise exception using errcode = 'MCUNU', message = format('unknown user %s', update_user.user_id);
  end if;
  return chat_private.profile(v_user);
end
$$;
comment on function chat_admin.update_user(text, text, text, text, boolean) is
  'Changes a user''s display_name and/or password (password, password_hash, or remove_password = true). '
  'Arguments left out keep their value. Errors: MCARG, MCHSH, MCUNU.';
--! EndIncluded chat_admin/update_user.sql
--! Included chat_admin/delete_user.sql
create or replace function chat_admin.delete_user(user_id text)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_group chat_private.conversations;
begin
  perform chat_private.require_user(delete_user.user_id);
  for v_group in
    select c.* from chat_private.conversations c
    join chat_private.memberships m on m.conversation_id = c.conversation_id
    where m.user_id = delete_user.user_id and m.left_seq is null and c.kind = 'group'
    order by c.conversation_id
    for update of c
  loop
    perform chat_private.leave_group(v_group, delete_user.user_id);
  end loop;
  -- Direct chats stay with the other user, history and all; a new user with the same id starts afresh.
  update chat_private.conversations c set direct_pair = null
  where c.direct_pair @> array[delete_user.user_id] and c.kind = 'direct';
  update chat_private.users u set blocked = array_remove(u.blocked, delete_user.user_id)
  where delete_user.user_id = any(u.blocked);
  delete from chat_private.users u where u.user_id = delete_user.user_id;
end
$$;
comment on function chat_admin.delete_user(text) is
  'Deletes a user. They leave all their groups (ownership passes on as in leave_conversation) and lose '
  'their inbox. The messages they sent stay in the conversations, still showing their user id as sender, '
  'so the other members'' history is intact; their direct chats stay in the other users'' inboxes but '
  'accept no new messages. A user created later with the same id starts with an empty mailbox. '
  'Errors: MCUNU.';
--! EndIncluded chat_admin/delete_user.sql
--! Included chat_admin/import_users.sql
create or replace function chat_admin.import_users(users jsonb, out inserted bigint, out updated bigint)
returns record
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_max integer := chat_private.setting('max_import_users', 100000);
begin
  if jsonb_typeof(users) is distinct from 'array' then
    raise exception using errcode = 'MCARG', message = 'users must be a JSON array of {user_id, display_name?, password_hash?}';
  end if;
  if jsonb_array_length(users) > v_max then
    raise exception using errcode = 'MCLIM', message = format('at most %s users per import', v_max);
  end if;
  if exists (select from jsonb_array_elements(users) e where jsonb_typeof(e) <> 'object') then
    raise exception using errcode = 'MCARG', message = 'each user must be a JSON object';
  end if;

  -- One statement for the whole batch. A user listed twice counts once (the last entry wins); an
  -- unchanged user is not written, so importing the same list again changes nothing.
  with incoming as (
    select distinct on (x.user_id)
      chat_private.checked_user_id(x.user_id) as user_id,
      chat_private.checked_label(x.display_name, 'display_name', false) as display_name,
      chat_private.checked_password_hash(x.password_hash) as password_hash
    from rows from (jsonb_to_recordset(users) as (user_id text, display_name text, password_hash text))
      with ordinality as x(user_id, display_name, password_hash, position)
    order by x.user_id, x.position desc
  ),
  written as (
    insert into chat_private.users as u (user_id, display_name, password_hash)
    select i.user_id, i.display_name, i.password_hash from incoming i
    on conflict (user_id) do update
      set display_name = coalesce(excluded.display_name, u.display_name),
          password_hash = coalesce(excluded.password_hash, u.password_hash),
          updated_at = now()
      where (u.display_name, u.password_hash) is distinct from
            (coalesce(excluded.display_name, u.display_name), coalesce(excluded.password_hash, u.password_hash))
    returning (xmax = 0) as is_new
  )
  select count(*) filter (where is_new), count(*) filter (where not is_new) into inserted, updated from written;
end
$$;
comment on function chat_admin.import_users(jsonb) is
  'Creates or updates many users in one call: users is a JSON array of {user_id, display_name?, '
  'password_hash?} (bcrypt, or legacy unsalted MD5 hex, replaced by bcrypt at the first login). Idempotent: '
  'importing the same list again changes nothing. At most 100000 per call. Returns how many users were '
  'inserted and how many updated. Errors: MCARG, MCHSH, MCLIM.';
--! EndIncluded chat_admin/import_users.sql
--! Included chat_admin/check_password.sql
create or replace function chat_admin.check_password(user_id text, password text)
returns boolean
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_hash text;
begin
  select u.password_hash into v_hash from chat_private.users u where u.user_id = check_password.user_id;
  if v_hash is null or password is null or not chat_private.password_matches(password, v_hash) then
    return false;
  end if;
  -- A legacy MD5 hash is replaced by bcrypt the first time its password is proven.
  if v_hash !~ '^\$2' then
    update chat_private.users u set password_hash = chat_private.hash_password(password), updated_at = now()
    where u.user_id = check_password.user_id;
  end if;
  return true;
end
$$;
comment on function chat_admin.check_password(text, text) is
  'Whether password is the user''s password (false for unknown users and users without one). A legacy '
  'MD5 hash is upgraded to bcrypt on success.';
--! EndIncluded chat_admin/check_password.sql

--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_private from public;
grant execute on all functions in schema chat, chat_admin to microchatter_app;
--! EndIncluded chat_private/privileges.sql
