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
