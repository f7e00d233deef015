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
  perform chat_private.require_not_suspended(actor);
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
  'Errors: MCEMO, MCNCV, MCNMB, MCNMS, MCSUS.';
