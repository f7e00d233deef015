--! Previous: sha1:0f6d38402d34f738f4ab39aed931cb9fb8c1adb3
--! Hash: sha1:04f68d66546d2eeb67fd8b4220e7d32fc6c6eff8
--! Message: send_message reads the sender once and skips attaching nothing

-- send_message: the sender's user row is read once (the block check takes it), and attaching costs
-- nothing when there is nothing to attach.
drop function if exists chat_private.require_not_blocked(chat_private.conversations, text);
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
-- Takes the writer's user row, which a sender has fetched already.
create or replace function chat_private.require_not_blocked(c chat_private.conversations, writer chat_private.users)
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
  v_peer := chat_private.require_user(chat_private.peer(c, writer.user_id));
  if writer.user_id = any(v_peer.blocked) then
    raise exception using errcode = 'MCBLK', message = format('%s does not accept messages from you', v_peer.user_id);
  end if;
  if v_peer.user_id = any(writer.blocked) then
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
-- and no stop words, so every language is found word for word). Vectors are written with the setting
-- in force at the time; after changing it, a DBA re-indexes with
--   update chat_private.messages set search = chat_private.search_vector(body)
--   where deleted_at is null;
create or replace function chat_private.search_config()
returns regconfig
language sql
stable
as $$
  select coalesce(nullif(current_setting('microchatter.search_config', true), ''), 'simple')::regconfig
$$;

create or replace function chat_private.search_vector(body text)
returns tsvector
language sql
stable
as $$
  select to_tsvector(chat_private.search_config(), body)
$$;
--! EndIncluded chat_private/message_rules.sql
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
  perform chat_private.require_not_blocked(chat_private.conversation(edit_message.conversation_id, false),
    chat_private.require_user(actor));
  if edit_message.body = v_message.body then
    return chat_private.message_row(v_message);
  end if;

  -- What it said before, for moderation (chat_admin.list_message_edits).
  insert into chat_private.message_edits (message_id, sender, body, written_at)
  values (v_message.message_id, v_message.sender, v_message.body, coalesce(v_message.edited_at, v_message.sent_at));

  update chat_private.messages msg
  set body = edit_message.body, edited_at = now(),
      search = chat_private.search_vector(edit_message.body)
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
  perform chat_private.require_not_blocked(chat_private.conversation(react.conversation_id, false),
    chat_private.require_user(actor));
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
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
