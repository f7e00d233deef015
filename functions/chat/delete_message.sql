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
