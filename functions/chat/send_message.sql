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
  perform chat_private.apply_send_durability();
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

  -- The sender has read their own message. A group's members see the new activity on the conversation
  -- row (chat_private.activity_at and chat_private.hidden): one row per send, not one per member. A
  -- direct chat's two members keep it on their own rows, where the inbox index finds it, and a
  -- deleted direct chat comes back.
  if v_conversation.kind = 'direct' then
    update chat_private.memberships m
    set last_activity_at = v_conversation.last_activity_at,
        hidden = false,
        read_seq = case when m.user_id = actor then v_message.seq else m.read_seq end,
        read_at = case when m.user_id = actor then v_message.sent_at else m.read_at end
    where m.conversation_id = v_conversation_id and m.left_seq is null;
  else
    update chat_private.memberships m
    set read_seq = v_message.seq, read_at = v_message.sent_at
    where m.conversation_id = v_conversation_id and m.user_id = actor;
  end if;

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
  'minute per user; with microchatter.send_synchronous_commit = off the send does not wait for its commit '
  'to reach the disk (docs/sql-api.md). Errors: MCEMB, MCLNG, MCARG, MCUNU, MCSLF, MCNCV, MCNMB, MCBLK, MCNMS, MCDEL, MCATT, '
  'MCLIM, MCRAT, MCSUS, MCMOD.';
