create or replace function chat.leave_conversation(actor text, conversation_id bigint)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(leave_conversation.conversation_id, true);
begin
  actor := chat_private.nfc(actor);
  perform chat_private.membership(actor, leave_conversation.conversation_id, true);
  perform chat_private.leave_group(v_conversation, actor);
end
$$;
comment on function chat.leave_conversation(text, bigint) is
  'Leaves a group. You keep the history up to now (until you delete it) and receive nothing later. If '
  'you owned the group, its longest-standing admin (else member) becomes owner. A direct chat cannot be '
  'left: delete it. Errors: MCNCV, MCNMB, MCKND.';
