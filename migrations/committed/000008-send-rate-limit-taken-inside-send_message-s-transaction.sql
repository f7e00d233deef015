--! Previous: sha1:a6e3faa098036f9c8dbce0a5e72f3690e36a9a04
--! Hash: sha1:77456d13558e2cac6110a733566e6c0a25a9da87
--! Message: send rate limit taken inside send_message's transaction

-- The send rate limit moves into send_message's own transaction (chat_private.take_send_token).
--! Included chat_private/take_send_token.sql
-- The send rate limit, taken in the sending transaction itself: one statement more on an unlogged
-- table, not a second round trip, and a send that fails for another reason gives its token back by
-- rolling back. The server sets microchatter.send_rate_per_minute on its own connections
-- (MICROCHATTER_SEND_RATE_PER_MINUTE); a psql session without it sends unlimited, as DBAs and batch
-- jobs expect. The hint carries Retry-After for the HTTP layer.
create or replace function chat_private.take_send_token(actor text)
returns void
language plpgsql
volatile
as $$
declare
  v_limit integer := chat_private.setting('send_rate_per_minute', 0);
  v_verdict record;
begin
  if v_limit <= 0 then
    return;
  end if;
  select * into v_verdict from chat_server.take_rate_token('send', actor, v_limit, 60);
  if not v_verdict.taken then
    raise exception using errcode = 'MCRAT', message = 'you are sending too fast',
      hint = format('retry after %s s', v_verdict.retry_after_seconds);
  end if;
end
$$;
--! EndIncluded chat_private/take_send_token.sql
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

  perform chat_private.take_send_token(actor);

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
  'Sessions that set microchatter.send_rate_per_minute (the server does) may send that many per minute '
  'per user. Errors: MCEMB, MCLNG, MCARG, MCUNU, MCSLF, MCNCV, MCNMB, MCBLK, MCRAT.';
--! EndIncluded chat/send_message.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
