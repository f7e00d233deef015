--! Previous: sha1:566b7a4a58282e3cf5991f0ef9ef3c8233b28b5c
--! Hash: sha1:7e99caf55a639da0133a7053768dae471dae25b8
--! Message: messages that change: edits, tombstones, reactions, replies, attachments on messages, search, events

-- Messages that change: edits (with their history), deletion for everyone (tombstones), reactions,
-- quote replies, attachments on messages, full-text search, and their events.

-- 1. The message row gains what changes after sending. Constant defaults: existing messages get them
--    without a table rewrite (PostgreSQL ≥ 11), as "never edited, not deleted, no reply, no reactions,
--    no attachments".
alter table chat_private.messages
  add column if not exists edited_at timestamptz,
  add column if not exists deleted_at timestamptz,
  add column if not exists reply_to_seq bigint,
  add column if not exists reactions jsonb not null default '[]',
  add column if not exists attachments jsonb not null default '[]',
  add column if not exists search tsvector;

-- What a message said before each edit, for moderation; deleted with the message. sender is kept so a
-- user's erasure can find the history of their messages.
create table if not exists chat_private.message_edits (
  edit_id bigint generated always as identity primary key,
  message_id bigint not null references chat_private.messages (message_id) on delete cascade,
  sender text not null,
  body text not null,
  -- When this body was written: sent, or the previous edit.
  written_at timestamptz not null,
  replaced_at timestamptz not null default now()
);
create index if not exists message_edits_message_idx on chat_private.message_edits (message_id);
create index if not exists message_edits_sender_idx on chat_private.message_edits (sender);

--! Included chat_private/message_rules.sql
-- Rules shared by the functions that write or change messages (send, edit, delete, react).

-- A message body: 1 to microchatter.max_body_length (4000) characters, not only white space. A message
-- that carries attachments may have an empty body (a file sent on its own); it is stored as ''.
create or replace function chat_private.checked_body(body text, has_attachments boolean)
returns text
language plpgsql
stable
as $$
declare
  v_max_length integer := chat_private.setting('max_body_length', 4000);
begin
  if body is null or body !~ '\S' then
    if has_attachments then
      return coalesce(body, '');
    end if;
    raise exception using errcode = 'MCEMB', message = 'message body is empty';
  end if;
  if length(body) > v_max_length then
    raise exception using errcode = 'MCLNG', message = format('message body is longer than %s characters', v_max_length);
  end if;
  return body;
end
$$;

-- In a direct chat, either side's block stops the other from writing to it (sending, editing, reacting).
create or replace function chat_private.require_not_blocked(c chat_private.conversations, actor text)
returns void
language plpgsql
stable
as $$
declare
  v_peer chat_private.users;
begin
  if c.kind <> 'direct' then
    return;
  end if;
  v_peer := chat_private.require_user(chat_private.peer(c, actor));
  if actor = any(v_peer.blocked) then
    raise exception using errcode = 'MCBLK', message = format('%s does not accept messages from you', v_peer.user_id);
  end if;
  if v_peer.user_id = any((chat_private.require_user(actor)).blocked) then
    raise exception using errcode = 'MCBLK', message = format('you have blocked %s; unblock them to send', v_peer.user_id);
  end if;
end
$$;

-- The message at seq as the member m may see it: after their deletion point (or joining), not after they
-- left. MCNMS otherwise, so a message one may not see and one that does not exist look alike.
create or replace function chat_private.visible_message(
  c chat_private.conversations,
  m chat_private.memberships,
  seq bigint,
  for_update boolean
)
returns chat_private.messages
language plpgsql
volatile
as $$
#variable_conflict use_column
declare
  v_message chat_private.messages;
begin
  if seq is null or seq <= m.cleared_seq or seq > chat_private.visible_seq(c, m) then
    raise exception using errcode = 'MCNMS', message = format('no message %s in conversation %s', seq, c.conversation_id);
  end if;
  if for_update then
    select * into strict v_message from chat_private.messages msg
    where msg.conversation_id = c.conversation_id and msg.seq = visible_message.seq for update;
  else
    select * into strict v_message from chat_private.messages msg
    where msg.conversation_id = c.conversation_id and msg.seq = visible_message.seq;
  end if;
  return v_message;
end
$$;

-- The message a current member is about to change, locked: concurrent edits, reactions and deletions
-- of one message queue on its row, so none is lost. Not the conversation row: senders keep going.
create or replace function chat_private.message_to_change(actor text, conversation_id bigint, seq bigint)
returns chat_private.messages
language plpgsql
volatile
as $$
begin
  return chat_private.visible_message(
    chat_private.conversation(conversation_id, false),
    chat_private.membership(actor, conversation_id, true),
    seq,
    true
  );
end
$$;

create or replace function chat_private.require_not_deleted(msg chat_private.messages)
returns void
language plpgsql
immutable
as $$
begin
  if msg.deleted_at is not null then
    raise exception using errcode = 'MCDEL', message = format('message %s was deleted', msg.seq);
  end if;
end
$$;

-- Full-text search. The configuration is microchatter.search_config ('simple' by default: no stemming
-- and no stop words, so every language is found word for word). A message's vector also holds the
-- lexeme '#<conversation_id>', which no query can produce (the parser drops '#'): search_messages ANDs
-- the searcher's conversations into the query, so the GIN index itself keeps to them and the cost
-- follows the searcher's own history, not the size of the database.
create or replace function chat_private.search_config()
returns regconfig
language sql
stable
as $$
  select coalesce(nullif(current_setting('microchatter.search_config', true), ''), 'simple')::regconfig
$$;

create or replace function chat_private.search_vector(conversation_id bigint, body text)
returns tsvector
language sql
stable
as $$
  select to_tsvector(chat_private.search_config(), body) || array_to_tsvector(array['#' || conversation_id])
$$;
--! EndIncluded chat_private/message_rules.sql

-- Existing messages become searchable. (The vector is written by send_message and edit_message, not a
-- generated column: its configuration is a setting, which a generated column may not read.)
update chat_private.messages msg set search = chat_private.search_vector(msg.conversation_id, msg.body)
where msg.search is null and msg.deleted_at is null;
create index if not exists messages_search_idx on chat_private.messages using gin (search);

-- 2. The message object gains the new fields (appended, so nothing that reads it by name changes).
do $$
begin
  if not exists (select from pg_catalog.pg_attribute
                 where attrelid = 'chat.message'::regclass and attname = 'edited_at' and not attisdropped) then
    alter type chat.message
      add attribute edited_at timestamptz,
      add attribute deleted_at timestamptz,
      add attribute reply_to_seq bigint,
      add attribute reactions jsonb,
      add attribute attachments jsonb;
  end if;
end
$$;
comment on type chat.message is
  'One message. seq numbers a conversation''s messages 1, 2, 3… in send order, without gaps. A deleted '
  'message stays as a tombstone: deleted_at set, body empty, no reactions or attachments. reactions: '
  '[{emoji, count, users}]; attachments: [{attachment_id, name, content_type, size}].';

drop type if exists chat.found_message cascade;
create type chat.found_message as (
  id bigint,
  conversation_id bigint,
  seq bigint,
  sender text,
  body text,
  client_id text,
  sent_at timestamptz,
  edited_at timestamptz,
  deleted_at timestamptz,
  reply_to_seq bigint,
  reactions jsonb,
  attachments jsonb,
  snippet text
);
comment on type chat.found_message is
  'A search result: the message and a snippet of its body, an HTML fragment (the text escaped) with the '
  'matches in <mark></mark>.';

--! Included chat_private/conversation_row.sql
-- Written as one row constructor so the planner inlines it: a multi-column select is not inlined,
-- and `(message_row(msg)).*` would then call it once per column (bench/sql.ts measured 1.1 ms a page).
create or replace function chat_private.message_row(msg chat_private.messages)
returns chat.message
language sql
immutable
as $$
  select row(msg.message_id, msg.conversation_id, msg.seq, msg.sender, msg.body, msg.client_id, msg.sent_at,
    msg.edited_at, msg.deleted_at, msg.reply_to_seq, msg.reactions, msg.attachments)::chat.message
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
--! Included chat_private/reactions.sql
-- A message's reactions are a small set read with it (DESIGN.md), so they are kept on the message row:
-- a JSON array with one entry per emoji, {emoji, count, users}, emoji in the order they were first
-- used and users in the order they reacted. Changing it rewrites one row under that row's lock.

-- An emoji as given (no trimming: it is compared as is): 1 to 32 characters without white space or
-- control characters.
create or replace function chat_private.checked_emoji(emoji text)
returns text
language plpgsql
immutable
as $$
begin
  if emoji is null or length(emoji) not between 1 and 32 or emoji ~ '[[:space:][:cntrl:]]' then
    raise exception using errcode = 'MCEMO',
      message = 'emoji must be 1 to 32 characters without white space';
  end if;
  return emoji;
end
$$;

-- The reactions with the user's reaction added (unchanged when it is there already). MCRXN when the
-- emoji would be one more than max_emoji distinct ones.
create or replace function chat_private.with_reaction(reactions jsonb, emoji text, user_id text, max_emoji integer)
returns jsonb
language plpgsql
immutable
as $$
declare
  v_index integer;
  v_entry jsonb;
begin
  select r.i - 1, r.entry into v_index, v_entry
  from jsonb_array_elements(reactions) with ordinality as r(entry, i)
  where r.entry ->> 'emoji' = emoji;
  if v_entry is null then
    if jsonb_array_length(reactions) >= max_emoji then
      raise exception using errcode = 'MCRXN',
        message = format('a message has at most %s different reactions', max_emoji);
    end if;
    return reactions || jsonb_build_array(jsonb_build_object('emoji', emoji, 'count', 1, 'users', jsonb_build_array(user_id)));
  end if;
  if v_entry -> 'users' ? user_id then
    return reactions;
  end if;
  return jsonb_set(reactions, array[v_index::text], jsonb_build_object(
    'emoji', emoji, 'count', (v_entry ->> 'count')::integer + 1, 'users', (v_entry -> 'users') || to_jsonb(user_id)));
end
$$;

-- The reactions without the user's reaction (unchanged when there is none); an emoji nobody uses any
-- more goes.
create or replace function chat_private.without_reaction(reactions jsonb, emoji text, user_id text)
returns jsonb
language sql
immutable
as $$
  select coalesce(jsonb_agg(
    case when r.entry ->> 'emoji' = emoji and r.entry -> 'users' ? user_id
      then jsonb_build_object('emoji', emoji, 'count', (r.entry ->> 'count')::integer - 1, 'users', (r.entry -> 'users') - user_id)
      else r.entry
    end order by r.i), '[]')
  from jsonb_array_elements(reactions) with ordinality as r(entry, i)
  where not (r.entry ->> 'emoji' = emoji and r.entry -> 'users' = jsonb_build_array(user_id))
$$;
--! EndIncluded chat_private/reactions.sql
--! Included chat_private/attachment_rules.sql
-- An attachment's file name as given: 1 to 255 bytes, not blank, no path separators or control
-- characters (NUL cannot occur in text), and not "." or "..". It is shown to people and offered as the
-- download's file name, so anything a file system or a header could read as a path is refused.
create or replace function chat_private.checked_attachment_name(name text)
returns text
language plpgsql
immutable
as $$
begin
  if name is null or octet_length(name) not between 1 and 255 or name !~ '\S' or name ~ '[/\\[:cntrl:]]'
     or name in ('.', '..') then
    raise exception using errcode = 'MCANM',
      message = 'name must be 1 to 255 bytes without path separators or control characters';
  end if;
  return name;
end
$$;

-- A MIME type as type/subtype with optional parameters, at most 127 characters; anything else (absent,
-- malformed) becomes application/octet-stream. Never refused: browsers send odd types for ordinary files.
create or replace function chat_private.checked_content_type(content_type text)
returns text
language sql
immutable
as $$
  select case
    when length(btrim(content_type)) <= 127
     and btrim(content_type) ~ ('^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*'
                                 '( *; *[A-Za-z0-9!#$&^_.+-]+=([A-Za-z0-9!#$&^_.+-]+|"[^"\\[:cntrl:]]*"))*$')
      then btrim(content_type)
    else 'application/octet-stream'
  end
$$;

-- An attachment as the message object lists it.
create or replace function chat_private.attachment_json(a chat_private.attachments)
returns jsonb
language sql
immutable
as $$
  select jsonb_build_object('attachment_id', a.attachment_id, 'name', a.name, 'content_type', a.content_type,
    'size', a.size)
$$;

-- Attaches the actor's uploads to the new message (conversation_id, seq) and returns the message's
-- attachment list, in the order given. Each id must be the actor's own finished upload not yet attached
-- (MCATT otherwise, and the refusal undoes the whole send); a duplicate id counts once; at most 10 (MCLIM).
create or replace function chat_private.attach(actor text, ids text[], conversation_id bigint, seq bigint)
returns jsonb
language plpgsql
volatile
as $$
#variable_conflict use_column
declare
  v_ids uuid[];
  v_list jsonb;
begin
  if ids is null or cardinality(ids) = 0 then
    return '[]';
  end if;
  if cardinality(ids) > 10 then
    raise exception using errcode = 'MCLIM', message = 'a message has at most 10 attachments';
  end if;
  if exists (select from unnest(ids) i where i is null
             or i !~* '^\{?[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}\}?$') then
    raise exception using errcode = 'MCATT', message = 'no such upload of yours to attach';
  end if;
  select array_agg(x.id order by x.first) into v_ids
  from (select i::uuid as id, min(n) as first from unnest(ids) with ordinality as u(i, n) group by i::uuid) x;

  -- Locked, so two sends cannot both take one upload.
  with taken as (
    update chat_private.attachments a
    set conversation_id = attach.conversation_id, seq = attach.seq
    where a.attachment_id = any(v_ids) and a.uploader = actor and a.complete and a.conversation_id is null
    returning a.*
  )
  select jsonb_agg(chat_private.attachment_json(t) order by array_position(v_ids, t.attachment_id))
  into v_list
  from taken t;
  if coalesce(jsonb_array_length(v_list), 0) <> cardinality(v_ids) then
    raise exception using errcode = 'MCATT', message = 'no such upload of yours to attach';
  end if;
  return v_list;
end
$$;
--! EndIncluded chat_private/attachment_rules.sql

-- 3. The API. send_message gains reply_to_seq and attachments: a new signature.
drop function if exists chat.send_message(text, text, bigint, text, text);
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
  perform chat_private.require_user(actor);
  if recipient is not null then
    v_conversation_id := chat_private.direct_conversation(actor, recipient);
  end if;

  v_conversation := chat_private.conversation(v_conversation_id, true);
  v_membership := chat_private.membership(actor, v_conversation_id, true);
  perform chat_private.require_not_blocked(v_conversation, actor);

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
          chat_private.attach(actor, attachments, v_conversation_id, v_conversation.last_seq),
          chat_private.search_vector(v_conversation_id, send_message.body))
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
--! Included chat/edit_message.sql
create or replace function chat.edit_message(actor text, conversation_id bigint, seq bigint, body text)
returns chat.message
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_window integer := chat_private.setting('edit_window_seconds', 0);
  v_message chat_private.messages;
begin
  actor := chat_private.nfc(actor);
  v_message := chat_private.message_to_change(actor, edit_message.conversation_id, edit_message.seq);
  if v_message.sender is distinct from actor then
    raise exception using errcode = 'MCOWN', message = 'only its sender may edit a message';
  end if;
  perform chat_private.require_not_deleted(v_message);
  if v_window > 0 and v_message.sent_at < now() - make_interval(secs => v_window) then
    raise exception using errcode = 'MCLAT',
      message = format('a message may be edited for %s seconds after it was sent', v_window);
  end if;
  edit_message.body := chat_private.checked_body(edit_message.body, jsonb_array_length(v_message.attachments) > 0);
  perform chat_private.require_not_blocked(chat_private.conversation(edit_message.conversation_id, false), actor);
  if edit_message.body = v_message.body then
    return chat_private.message_row(v_message);
  end if;

  -- What it said before, for moderation (chat_admin.list_message_edits).
  insert into chat_private.message_edits (message_id, sender, body, written_at)
  values (v_message.message_id, v_message.sender, v_message.body, coalesce(v_message.edited_at, v_message.sent_at));

  update chat_private.messages msg
  set body = edit_message.body, edited_at = now(),
      search = chat_private.search_vector(msg.conversation_id, edit_message.body)
  where msg.conversation_id = edit_message.conversation_id and msg.seq = edit_message.seq
  returning * into v_message;
  return chat_private.message_row(v_message);
end
$$;
comment on function chat.edit_message(text, bigint, bigint, text) is
  'Changes the body of a message you sent, for everyone: edited_at is set and the members get '
  'message.updated. Same body rules as send_message. What it said before stays where an admin can read it '
  '(chat_admin.list_message_edits). A DBA may limit how long after sending (microchatter.edit_window_seconds; '
  'default no limit). Editing to the same body changes nothing. Returns the message. '
  'Errors: MCNCV, MCNMB, MCNMS, MCOWN, MCDEL, MCLAT, MCEMB, MCLNG, MCBLK.';
--! EndIncluded chat/edit_message.sql
--! Included chat/delete_message.sql
create or replace function chat.delete_message(actor text, conversation_id bigint, seq bigint)
returns chat.message
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations;
  v_message chat_private.messages;
begin
  actor := chat_private.nfc(actor);
  v_message := chat_private.message_to_change(actor, delete_message.conversation_id, delete_message.seq);
  if v_message.sender is distinct from actor then
    v_conversation := chat_private.conversation(delete_message.conversation_id, false);
    if v_conversation.kind <> 'group' or not actor = any(v_conversation.admins) then
      raise exception using errcode = 'MCOWN',
        message = 'only its sender, or in a group its owner and admins, may delete a message';
    end if;
  end if;
  if v_message.deleted_at is not null then
    return chat_private.message_row(v_message);
  end if;

  -- The tombstone keeps its seq, sender, times and reply_to_seq; what it said is gone, history and
  -- attachment bytes included.
  delete from chat_private.message_edits e where e.message_id = v_message.message_id;
  delete from chat_private.attachments a
  where a.conversation_id = delete_message.conversation_id and a.seq = delete_message.seq;
  update chat_private.messages msg
  set body = '', reactions = '[]', attachments = '[]', search = null, deleted_at = now()
  where msg.conversation_id = delete_message.conversation_id and msg.seq = delete_message.seq
  returning * into v_message;
  return chat_private.message_row(v_message);
end
$$;
comment on function chat.delete_message(text, bigint, bigint) is
  'Deletes a message for everyone: your own, or, in a group you own or administer, anyone''s. It stays as '
  'a tombstone (same seq, deleted_at set, empty body, no reactions or attachments; the attachments'' bytes '
  'and the edit history are deleted) and the members get message.deleted. It still counts as unread '
  'until read, like any message. Deleting a deleted message changes nothing. Returns the tombstone. '
  'Errors: MCNCV, MCNMB, MCNMS, MCOWN.';
--! EndIncluded chat/delete_message.sql
--! Included chat/react.sql
create or replace function chat.react(actor text, conversation_id bigint, seq bigint, emoji text)
returns chat.message
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_message chat_private.messages;
  v_reactions jsonb;
begin
  actor := chat_private.nfc(actor);
  emoji := chat_private.checked_emoji(emoji);
  v_message := chat_private.message_to_change(actor, react.conversation_id, react.seq);
  perform chat_private.require_not_deleted(v_message);
  perform chat_private.require_not_blocked(chat_private.conversation(react.conversation_id, false), actor);
  v_reactions := chat_private.with_reaction(v_message.reactions, emoji, actor,
    chat_private.setting('max_reactions_per_message', 50));
  if v_reactions = v_message.reactions then
    return chat_private.message_row(v_message);
  end if;
  update chat_private.messages msg set reactions = v_reactions
  where msg.conversation_id = react.conversation_id and msg.seq = react.seq
  returning * into v_message;
  return chat_private.message_row(v_message);
end
$$;
comment on function chat.react(text, bigint, bigint, text) is
  'Adds your reaction `emoji` (1 to 32 characters, no white space) to a message; reacting again with the '
  'same emoji changes nothing. A message has at most microchatter.max_reactions_per_message (50) different '
  'emoji. The members get message.updated. Returns the message. '
  'Errors: MCEMO, MCNCV, MCNMB, MCNMS, MCDEL, MCRXN, MCBLK.';
--! EndIncluded chat/react.sql
--! Included chat/unreact.sql
create or replace function chat.unreact(actor text, conversation_id bigint, seq bigint, emoji text)
returns chat.message
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_message chat_private.messages;
  v_reactions jsonb;
begin
  actor := chat_private.nfc(actor);
  emoji := chat_private.checked_emoji(emoji);
  v_message := chat_private.message_to_change(actor, unreact.conversation_id, unreact.seq);
  v_reactions := chat_private.without_reaction(v_message.reactions, emoji, actor);
  if v_reactions = v_message.reactions then
    return chat_private.message_row(v_message);
  end if;
  update chat_private.messages msg set reactions = v_reactions
  where msg.conversation_id = unreact.conversation_id and msg.seq = unreact.seq
  returning * into v_message;
  return chat_private.message_row(v_message);
end
$$;
comment on function chat.unreact(text, bigint, bigint, text) is
  'Takes back your reaction `emoji` from a message; nothing changes when you had not reacted so (or the '
  'message was deleted). The members get message.updated. Returns the message. '
  'Errors: MCEMO, MCNCV, MCNMB, MCNMS.';
--! EndIncluded chat/unreact.sql
--! Included chat/search_messages.sql
create or replace function chat.search_messages(
  actor text,
  query text,
  conversation_id bigint default null,
  before bigint default null,
  "limit" integer default 20
)
returns setof chat.found_message
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_config regconfig := chat_private.search_config();
  v_query tsquery;
  v_conversations tsquery;
begin
  actor := chat_private.nfc(actor);
  if "limit" is null or "limit" not between 1 and 100 then
    raise exception using errcode = 'MCLIM', message = 'limit must be between 1 and 100';
  end if;
  if query is null or length(query) > 1000 then
    raise exception using errcode = 'MCARG', message = 'query must be at most 1000 characters';
  end if;
  if search_messages.conversation_id is not null then
    perform chat_private.conversation(search_messages.conversation_id, false);
    perform chat_private.membership(actor, search_messages.conversation_id, false);
  end if;
  v_query := websearch_to_tsquery(v_config, query);
  if numnode(v_query) = 0 then
    return; -- nothing to look for: only punctuation, or only stop words of the configuration
  end if;
  -- The searcher's conversations as lexemes of the index (chat_private.search_vector), unless there are
  -- so many that reading their posting lists costs more than checking the matches against memberships.
  select string_agg(quote_literal('#' || m.conversation_id), ' | ')::tsquery into v_conversations
  from (
    select m.conversation_id from chat_private.memberships m
    where m.user_id = actor
      and (search_messages.conversation_id is null or m.conversation_id = search_messages.conversation_id)
    limit 501
  ) m
  having count(*) <= 500;

  -- Planned for these values each time: a generic plan cannot tell a rare word from a common one.
  return query execute $sql$
    select (chat_private.message_row(found.msg)).*,
      ts_headline($1, replace(replace(replace((found.msg).body, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), $2,
        'StartSel=<mark>, StopSel=</mark>, MaxWords=30, MinWords=10')
    from (
      select msg, msg.message_id
      from chat_private.messages msg
      join chat_private.memberships m on m.conversation_id = msg.conversation_id and m.user_id = $3
      join chat_private.conversations c on c.conversation_id = msg.conversation_id
      where msg.search @@ ($2 && coalesce($4, $2))
        and ($5::bigint is null or msg.conversation_id = $5)
        and ($6::bigint is null or msg.message_id < $6)
        and msg.seq > m.cleared_seq
        and msg.seq <= coalesce(m.left_seq, c.last_seq)
        and msg.deleted_at is null
      order by msg.message_id desc
      limit $7
    ) found
    order by found.message_id desc
  $sql$ using v_config, v_query, actor, v_conversations, search_messages.conversation_id, before, "limit";
end
$$;
comment on function chat.search_messages(text, text, bigint, bigint, integer) is
  'Full-text search over the messages you can read (your conversations, after your deletion point, not '
  'after you left; never deleted ones), newest first. query: web-search syntax (words, "a phrase", or, '
  '-word), at most 1000 characters. conversation_id: only that conversation. before: the id of the last '
  'result of the previous page. limit 1 to 100 (default 20). Each result is the message plus snippet: an '
  'HTML fragment of its body, escaped, with the matches in <mark></mark>. The text-search configuration is '
  'microchatter.search_config (default simple). Errors: MCARG, MCLIM, MCNCV, MCNMB.';
--! EndIncluded chat/search_messages.sql
--! Included chat_admin/list_message_edits.sql
create or replace function chat_admin.list_message_edits(conversation_id bigint, seq bigint)
returns table (body text, written_at timestamptz, replaced_at timestamptz)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select e.body, e.written_at, e.replaced_at
  from chat_private.messages msg
  join chat_private.message_edits e on e.message_id = msg.message_id
  where msg.conversation_id = list_message_edits.conversation_id and msg.seq = list_message_edits.seq
  order by e.replaced_at, e.edit_id
$$;
comment on function chat_admin.list_message_edits(bigint, bigint) is
  'What a message said before each edit, oldest first: the earlier body, when it was written (sent or '
  'last edited) and when an edit replaced it. For moderation. Deleting the message deletes its history. '
  'No row for a message never edited, or no such message.';
--! EndIncluded chat_admin/list_message_edits.sql
--! Included chat_server/attachment_for_reader.sql
create or replace function chat_server.attachment_for_reader(reader text, attachment_id uuid)
returns table (name text, content_type text, size bigint, chunks integer)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  -- The uploader, or a member who can see the (not deleted) message now, by list_messages' rule: after
  -- their deletion point (or joining), not after they left.
  select a.name, a.content_type, a.size,
    (select count(*)::integer from chat_private.attachment_chunks ch where ch.attachment_id = a.attachment_id)
  from chat_private.attachments a
  where a.attachment_id = attachment_for_reader.attachment_id
    and a.complete
    and (
      a.uploader = chat_private.nfc(reader)
      or exists (
        select from chat_private.messages msg
        join chat_private.conversations c on c.conversation_id = msg.conversation_id
        join chat_private.memberships m on m.conversation_id = msg.conversation_id
        where msg.conversation_id = a.conversation_id and msg.seq = a.seq
          and msg.deleted_at is null
          and m.user_id = chat_private.nfc(reader)
          and msg.seq > m.cleared_seq
          and msg.seq <= chat_private.visible_seq(c, m)
      )
    )
$$;
comment on function chat_server.attachment_for_reader(text, uuid) is
  'The attachment''s name, content type, size and number of chunks, when the reader may download it: they '
  'uploaded it, or it is on a message they can see (as in list_messages). No row otherwise, which the '
  'server answers 404 whether or not the attachment exists.';
--! EndIncluded chat_server/attachment_for_reader.sql

-- 4. Events: message.updated and message.deleted.
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
