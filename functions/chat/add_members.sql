create or replace function chat.add_members(actor text, conversation_id bigint, members text[])
returns chat.conversation
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(add_members.conversation_id, true);
  v_membership chat_private.memberships := chat_private.membership(chat_private.nfc(actor), add_members.conversation_id, true);
begin
  actor := chat_private.nfc(actor);
  perform chat_private.require_not_suspended(actor);
  members := chat_private.nfc(members);
  perform chat_private.require_group_admin(v_conversation, actor);
  v_conversation := chat_private.join_group(v_conversation, actor, add_members.members);
  return chat_private.conversation_row(v_conversation, v_membership);
end
$$;
comment on function chat.add_members(text, bigint, text[]) is
  'Adds users to a group (owner and admins only). New members see the messages sent from now on, not '
  'the history before; users already in the group are skipped; former members come back. '
  'Errors: MCNCV, MCNMB, MCKND, MCFRB, MCUNU, MCBLK, MCFUL, MCSUS.';
