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
  perform chat_private.require_not_suspended(actor);
  perform chat_private.require_group_admin(v_conversation, actor);
  update chat_private.conversations c set title = chat_private.checked_label(rename_conversation.title, 'title', true)
  where c.conversation_id = rename_conversation.conversation_id
  returning * into v_conversation;
  return chat_private.conversation_row(v_conversation, v_membership);
end
$$;
comment on function chat.rename_conversation(text, bigint, text) is
  'Renames a group (owner and admins only); title 1 to 200 characters. Errors: MCARG, MCNCV, MCNMB, MCKND, MCFRB, MCSUS.';
