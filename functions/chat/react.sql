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
  perform chat_private.require_not_suspended(actor);
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
  'Errors: MCEMO, MCNCV, MCNMB, MCNMS, MCDEL, MCRXN, MCBLK, MCSUS.';
