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
