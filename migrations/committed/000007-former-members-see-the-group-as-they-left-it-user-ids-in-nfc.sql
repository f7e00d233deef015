--! Previous: sha1:b2706fb6a9d4f4223f0c65645bb9bb92c5bd952b
--! Hash: sha1:a6e3faa098036f9c8dbce0a5e72f3690e36a9a04
--! Message: former members see the group as they left it, user ids in NFC, rate limits shared by all processes

-- 1. A former group member sees the group as it was when they left (title, members, owner, admins),
--    not as it is now: the snapshot is taken on the membership row by chat_private.leave_group.
alter table chat_private.memberships
  add column if not exists left_title text,
  add column if not exists left_members text[],
  add column if not exists left_owner text,
  add column if not exists left_admins text[];

-- Members who left before this migration: the event log remembers the group as it stood when they
-- left (the conversation.updated event of their departure is the last one they received), as long as
-- it is retained (microchatter.event_retention_days, 30 by default).
update chat_private.memberships m
set (left_title, left_members, left_owner, left_admins) = (
  select ev.payload ->> 'title',
    array(select jsonb_array_elements_text(ev.payload -> 'members')),
    ev.payload ->> 'owner',
    array(select jsonb_array_elements_text(ev.payload -> 'admins'))
  from chat_private.events ev
  where ev.recipients @> array[m.user_id]
    and ev.type in ('conversation.created', 'conversation.updated')
    and (ev.payload ->> 'conversation_id')::bigint = m.conversation_id
    and not (ev.payload -> 'members') ? m.user_id
  order by ev.position desc
  limit 1
)
where m.left_seq is not null and m.left_members is null;

-- Older departures: the current title, and of the current members only those who were provably
-- there already (joined, or last deleted the chat, before the departure's seq); nobody who may have
-- been added since. Owner and admins only from among those.
update chat_private.memberships m
set left_title = c.title,
    left_members = array(
      select u.user_id
      from unnest(c.members) with ordinality as u(user_id, position)
      join chat_private.memberships other
        on other.conversation_id = c.conversation_id and other.user_id = u.user_id
      where other.cleared_seq < m.left_seq
      order by u.position
    )
from chat_private.conversations c
where c.conversation_id = m.conversation_id and m.left_seq is not null and m.left_members is null;
update chat_private.memberships m
set left_owner = case when c.owner = any(m.left_members) then c.owner end,
    left_admins = array(select a from unnest(c.admins) a where a = any(m.left_members))
from chat_private.conversations c
where c.conversation_id = m.conversation_id and m.left_seq is not null and m.left_admins is null;

--! Included chat_private/conversation_row.sql
-- Written as one row constructor so the planner inlines it: a multi-column select is not inlined,
-- and `(message_row(msg)).*` would then call it once per column (bench/sql.ts measured 1.1 ms a page).
create or replace function chat_private.message_row(msg chat_private.messages)
returns chat.message
language sql
immutable
as $$
  select row(msg.message_id, msg.conversation_id, msg.seq, msg.sender, msg.body, msg.client_id, msg.sent_at)::chat.message
$$;

-- Keyset cursor of the inbox: activity time in epoch microseconds and the conversation id.
create or replace function chat_private.inbox_cursor(last_activity_at timestamptz, conversation_id bigint)
returns text
language sql
stable -- extract() from timestamptz and bigint || text are only stable; declaring more blocks inlining
as $$
  select (extract(epoch from last_activity_at) * 1000000)::bigint || ':' || conversation_id
$$;

-- A conversation as member m sees it, as a one-row set: PostgreSQL inlines set-returning SQL functions
-- into a lateral join, where a function returning one composite is called row by row.
create or replace function chat_private.conversation_rows(c chat_private.conversations, m chat_private.memberships)
returns setof chat.conversation
language sql
stable
rows 1
as $$
  select
    c.conversation_id,
    c.kind,
    case
      when c.kind = 'direct' then coalesce(p.display_name, chat_private.peer(c, m.user_id))
      when m.left_seq is null then c.title
      else m.left_title
    end,
    chat_private.peer(c, m.user_id),
    -- A former member sees the group as it was when they left (chat_private.leave_group).
    case when m.left_seq is null then c.members else m.left_members end,
    case when m.left_seq is null then c.owner else m.left_owner end,
    case when m.left_seq is null then c.admins else m.left_admins end,
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

-- The same for one conversation.
create or replace function chat_private.conversation_row(c chat_private.conversations, m chat_private.memberships)
returns chat.conversation
language sql
stable
as $$
  select r from chat_private.conversation_rows(c, m) r
$$;
--! EndIncluded chat_private/conversation_row.sql
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
        left_title = null, left_members = null, left_owner = null, left_admins = null,
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
  if v_owner = leaver then
    v_owner := coalesce(v_admins[1], v_members[1]);
    if v_owner is not null and not v_owner = any(v_admins) then
      v_admins := array_prepend(v_owner, v_admins);
    end if;
  end if;
  update chat_private.conversations cv set members = v_members, admins = v_admins, owner = v_owner
  where cv.conversation_id = c.conversation_id
  returning * into c;

  -- The leaver keeps seeing the group as it stood the moment they were out of it: later renames and
  -- members are none of their business (chat_private.conversation_rows shows this snapshot).
  update chat_private.memberships m
  set left_seq = c.last_seq, left_title = c.title, left_members = c.members, left_owner = c.owner,
      left_admins = c.admins
  where m.conversation_id = c.conversation_id and m.user_id = leaver and m.left_seq is null;
  return c;
end
$$;
--! EndIncluded chat_private/group_rules.sql

-- 2. User ids in Unicode normal form C, whatever form the caller used (docs/auth.md). Ids stored
--    before this migration are left as they are: a site id that is not in NFC can no longer be named
--    through the API (every argument is normalised), so the migration says how many there are.
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
  select u.user_id, u.display_name, u.password_hash is not null, u.created_at, u.updated_at
$$;
--! EndIncluded chat_private/users.sql
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
  v_membership chat_private.memberships := chat_private.membership(chat_private.nfc(actor), add_members.conversation_id, true);
begin
  actor := chat_private.nfc(actor);
  members := chat_private.nfc(members);
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
--! Included chat/block_user.sql
create or replace function chat.block_user(actor text, "user" text)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  actor := chat_private.nfc(actor);
  "user" := chat_private.nfc("user");
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
  actor := chat_private.nfc(actor);
  members := chat_private.nfc(members);
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
  v_membership chat_private.memberships := chat_private.membership(chat_private.nfc(actor), delete_conversation.conversation_id, false);
  v_visible bigint := chat_private.visible_seq(v_conversation, v_membership);
begin
  actor := chat_private.nfc(actor);
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
    chat_private.membership(chat_private.nfc(actor), conversation_id, false)
  )
$$;
comment on function chat.get_conversation(text, bigint) is
  'One conversation as it appears in your inbox (also one you left or deleted). Errors: MCNCV, MCNMB.';
--! EndIncluded chat/get_conversation.sql
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
  actor := chat_private.nfc(actor);
  perform chat_private.membership(actor, leave_conversation.conversation_id, true);
  perform chat_private.leave_group(v_conversation, actor);
end
$$;
comment on function chat.leave_conversation(text, bigint) is
  'Leaves a group. You keep the history up to now (until you delete it) and receive nothing later. If '
  'you owned the group, its longest-standing admin (else member) becomes owner. A direct chat cannot be '
  'left: delete it. Errors: MCNCV, MCNMB, MCKND.';
--! EndIncluded chat/leave_conversation.sql
--! Included chat/list_blocked.sql
create or replace function chat.list_blocked(actor text)
returns table (user_id text, display_name text)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select b.user_id, usr.display_name
  from unnest((chat_private.require_user(chat_private.nfc(actor))).blocked) with ordinality as b(user_id, position)
  left join chat_private.users usr on usr.user_id = b.user_id
  order by b.position
$$;
comment on function chat.list_blocked(text) is 'The users you blocked, in the order you blocked them. Errors: MCUNU.';
--! EndIncluded chat/list_blocked.sql
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
  actor := chat_private.nfc(actor);
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
  cross join lateral chat_private.conversation_rows(page.c, page.m) r
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
  actor := chat_private.nfc(actor);
  if "limit" is null or "limit" not between 1 and 200 then
    raise exception using errcode = 'MCLIM', message = 'limit must be between 1 and 200';
  end if;
  if before_seq < 0 or after_seq < 0 then
    raise exception using errcode = 'MCARG', message = 'before_seq and after_seq must not be negative';
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
  v_membership chat_private.memberships := chat_private.membership(chat_private.nfc(actor), mark_read.conversation_id, false);
  v_visible bigint := chat_private.visible_seq(v_conversation, v_membership);
begin
  actor := chat_private.nfc(actor);
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
  'The acting user''s profile: site user id, display name, whether a password is set. Errors: MCUNU.';
--! EndIncluded chat/me.sql
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
  v_membership chat_private.memberships := chat_private.membership(chat_private.nfc(actor), remove_member.conversation_id, true);
begin
  actor := chat_private.nfc(actor);
  "user" := chat_private.nfc("user");
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
  v_membership chat_private.memberships := chat_private.membership(chat_private.nfc(actor), rename_conversation.conversation_id, true);
begin
  actor := chat_private.nfc(actor);
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
  actor := chat_private.nfc(actor);
  recipient := chat_private.nfc(recipient);
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
  v_membership chat_private.memberships := chat_private.membership(chat_private.nfc(actor), set_admin.conversation_id, true);
begin
  actor := chat_private.nfc(actor);
  "user" := chat_private.nfc("user");
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
  v_membership chat_private.memberships := chat_private.membership(chat_private.nfc(actor), set_muted.conversation_id, false);
begin
  actor := chat_private.nfc(actor);
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
--! Included chat/unblock_user.sql
create or replace function chat.unblock_user(actor text, "user" text)
returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  update chat_private.users u set blocked = array_remove(u.blocked, chat_private.nfc("user"))
  where u.user_id = (chat_private.require_user(chat_private.nfc(actor))).user_id and chat_private.nfc("user") = any(u.blocked)
$$;
comment on function chat.unblock_user(text, text) is
  'Unblocks a user; your direct chat with them, with its history, is back in your inbox. Unblocking a '
  'user you had not blocked does nothing. Errors: MCUNU.';
--! EndIncluded chat/unblock_user.sql
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
    where u.user_id = chat_private.nfc(actor) and chat_private.in_inbox(c, m, u.blocked)
  ) x
  where x.unread > 0
$$;
comment on function chat.unread_count(text) is
  'Your unread messages: total (muted conversations not counted) and, per conversation that has any, '
  '{conversation_id, unread, muted}. Counts only conversations your inbox shows.';
--! EndIncluded chat/unread_count.sql
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
  check_password.user_id := chat_private.nfc(check_password.user_id);
  select u.password_hash into v_hash from chat_private.users u where u.user_id = check_password.user_id;
  if v_hash is null or password is null then
    -- Spend the same bcrypt work as for a real user, so timing does not tell which user ids exist.
    perform chat_private.password_matches(coalesce(password, ''), '$2a$10$umdp8t0ka7mPAVkXq0Q7J.ihc10jYuQiQUikGVsPxyZpFbGQI9.l6');
    return false;
  end if;
  if not chat_private.password_matches(password, v_hash) then
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
  delete_user.user_id := chat_private.nfc(delete_user.user_id);
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
--! Included chat_admin/ensure_user.sql
create or replace function chat_admin.ensure_user(user_id text, display_name text default null)
returns chat.user_profile
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_user chat_private.users;
  v_name text := chat_private.checked_label(ensure_user.display_name, 'display_name', false);
begin
  ensure_user.user_id := chat_private.nfc(ensure_user.user_id);
  -- Racing first requests of one user: one insert wins, the others wait for it and update nothing.
  insert into chat_private.users as u (user_id, display_name)
  values (chat_private.checked_user_id(ensure_user.user_id), v_name)
  on conflict (user_id) do update
    set display_name = excluded.display_name, updated_at = now()
    where excluded.display_name is not null and u.display_name is distinct from excluded.display_name
  returning * into v_user;
  if not found then
    select * into v_user from chat_private.users u where u.user_id = ensure_user.user_id;
  end if;
  return chat_private.profile(v_user);
end
$$;
comment on function chat_admin.ensure_user(text, text) is
  'Creates the user if the site''s id is new, else keeps it; a given display_name replaces the stored one. '
  'The server calls it for the first token of a user it has not seen. Errors: MCARG.';
--! EndIncluded chat_admin/ensure_user.sql
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
  v_key text;
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
  -- A misspelt key, or a plain-text "password", must not pass silently as a user without one.
  select k into v_key
  from jsonb_array_elements(users) e, jsonb_object_keys(e) k
  where k not in ('user_id', 'display_name', 'password_hash')
  limit 1;
  if found then
    raise exception using errcode = 'MCARG',
      message = format('unknown key %s: a user is {user_id, display_name?, password_hash?}', v_key);
  end if;
  if exists (
    select from jsonb_array_elements(users) e
    where jsonb_typeof(e -> 'user_id') is distinct from 'string'
       or jsonb_typeof(e -> 'display_name') not in ('string', 'null')
       or jsonb_typeof(e -> 'password_hash') not in ('string', 'null')
  ) then
    raise exception using errcode = 'MCARG',
      message = 'user_id must be a string; display_name and password_hash strings or null';
  end if;

  -- One statement for the whole batch. A user listed twice counts once (the last entry wins), also
  -- when the two spellings differ only in Unicode form (ids are compared in NFC); an unchanged user
  -- is not written, so importing the same list again changes nothing.
  with incoming as (
    select distinct on (x.user_id)
      x.user_id,
      chat_private.checked_label(x.display_name, 'display_name', false) as display_name,
      chat_private.checked_password_hash(x.password_hash) as password_hash
    from (
      select chat_private.checked_user_id(r.user_id) as user_id, r.display_name, r.password_hash, r.position
      from rows from (jsonb_to_recordset(users) as (user_id text, display_name text, password_hash text))
        with ordinality as r(user_id, display_name, password_hash, position)
    ) x
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
  update_user.user_id := chat_private.nfc(update_user.user_id);
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
  create_stream_ticket.user_id := chat_private.nfc(create_stream_ticket.user_id);
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
  user_events.user_id := chat_private.nfc(user_events.user_id);
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

do $$
declare
  v_count bigint;
begin
  if pg_catalog.current_setting('server_encoding') = 'UTF8' then
    select count(*) into v_count from chat_private.users u where u.user_id is not nfc normalized;
    if v_count > 0 then
      raise warning '% user ids are not in Unicode NFC and can no longer be named through the API; see docs/auth.md', v_count;
    end if;
  end if;
end
$$;

-- 3. Rate limits shared by every server process: send rate and login failures. One row per bucket
--    and key that is not full. Unlogged: a bucket is worth nothing after a crash (losing it only
--    forgives one window of throttling), and an unlogged write neither writes WAL nor waits for a
--    flush at commit, so a take stays a small fraction of a send. refilled_at is not indexed, so
--    every take is a HOT update of its row; pruning (chat_server.prune_events) scans the table hourly.
create unlogged table if not exists chat_private.rate_limits (
  bucket text not null,
  key text not null,
  -- When the bucket is full again; a row past it is the same as no row.
  refilled_at timestamptz not null,
  primary key (bucket, key)
);
--! Included chat_server/take_rate_token.sql
-- One atomic statement per take, shared by every server process on the database. The state of a
-- bucket is a single time, refilled_at: when it will be full again (the "theoretical arrival time" of
-- the generic cell rate algorithm). Each token pushes it one interval (window / limit) later, and a
-- take is allowed while refilled_at stays within one window of now: a burst of `limit`, then one
-- token per interval, exactly the token bucket the server used to keep in memory.
create or replace function chat_server.take_rate_token(
  bucket text,
  key text,
  "limit" integer,
  window_seconds double precision,
  out taken boolean,
  out retry_after_seconds integer
)
returns record
language plpgsql
volatile
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  -- Not now(): a DBA may call this inside a longer transaction, and concurrent takes must see time pass.
  v_now timestamptz := clock_timestamp();
  v_token interval;
  v_window interval;
  v_refilled_at timestamptz;
begin
  if take_rate_token."limit" < 1 or window_seconds <= 0 then
    raise exception using errcode = 'MCARG', message = 'limit and window_seconds must be positive';
  end if;
  v_token := make_interval(secs => window_seconds / take_rate_token."limit");
  -- Intervals are whole microseconds: allow for the rounding of `limit` tokens in a burst.
  v_window := make_interval(secs => window_seconds) + take_rate_token."limit" * interval '1 microsecond';

  insert into chat_private.rate_limits as r (bucket, key, refilled_at)
  values (take_rate_token.bucket, take_rate_token.key, v_now + v_token)
  on conflict (bucket, key) do update
    set refilled_at = greatest(r.refilled_at, v_now) + v_token
    where greatest(r.refilled_at, v_now) + v_token <= v_now + v_window
  returning true into taken;
  if found then
    retry_after_seconds := 0;
    return;
  end if;

  -- Refused, nothing taken; only the hint below reads the row a second time.
  select r.refilled_at into v_refilled_at from chat_private.rate_limits r
  where r.bucket = take_rate_token.bucket and r.key = take_rate_token.key;
  taken := false;
  retry_after_seconds := greatest(1, ceil(extract(epoch from
    greatest(v_refilled_at, v_now) + v_token - make_interval(secs => window_seconds) - v_now)))::integer;
end
$$;
comment on function chat_server.take_rate_token(text, text, integer, double precision) is
  'Takes one token from the bucket (bucket, key) that holds up to `limit` tokens and refills `limit` per '
  'window_seconds. Returns taken = true, or taken = false and how many seconds until a token is back '
  '(nothing is taken then). Shared by all server processes: the send rate limit and the login-failure '
  'throttle. Errors: MCARG.';
--! EndIncluded chat_server/take_rate_token.sql
--! Included chat_server/return_rate_token.sql
create or replace function chat_server.return_rate_token(bucket text, key text, "limit" integer, window_seconds double precision)
returns void
language sql
volatile
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
  update chat_private.rate_limits r
  set refilled_at = r.refilled_at - make_interval(secs => window_seconds / greatest("limit", 1))
  where r.bucket = return_rate_token.bucket and r.key = return_rate_token.key and r.refilled_at > clock_timestamp()
$$;
comment on function chat_server.return_rate_token(text, text, integer, double precision) is
  'Gives back a token taken with take_rate_token (same bucket, key, limit and window) for an attempt '
  'that turned out not to count, e.g. a successful login. A full bucket stays full.';
--! EndIncluded chat_server/return_rate_token.sql
--! Included chat_server/reset_rate_limit.sql
create or replace function chat_server.reset_rate_limit(bucket text, key text)
returns void
language sql
volatile
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
  delete from chat_private.rate_limits r where r.bucket = reset_rate_limit.bucket and r.key = reset_rate_limit.key
$$;
comment on function chat_server.reset_rate_limit(text, text) is
  'Forgets a rate-limit bucket: the key''s next burst is a full one.';
--! EndIncluded chat_server/reset_rate_limit.sql
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
  -- A bucket that has refilled is the same as no bucket.
  delete from chat_private.rate_limits r where r.refilled_at < now();
  return v_deleted;
end
$$;
comment on function chat_server.prune_events(interval) is
  'Deletes events older than the retention (default 30 days), expired stream tickets and refilled '
  'rate-limit buckets; returns how many events went. A client whose cursor is older gets a reset. The '
  'server calls it hourly.';
--! EndIncluded chat_server/prune_events.sql

--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
