create or replace function chat.remove_member(actor text, conversation_id bigint, "user" text)
returns chat.conversation
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(remove_member.conversation_id, true);
  v_membership chat_private.memberships := chat_private.membership(chat_private.nfc(actor), remove_member.conversation_id, true);
begin
  actor := chat_private.nfc(actor);
  "user" := chat_private.nfc("user");
  perform chat_private.require_group_admin(v_conversation, actor);
  if not "user" = any(v_conversation.members) then
    raise exception using errcode = 'MCNMB',
      message = format('%s is not a member of conversation %s', "user", remove_member.conversation_id);
  end if;
  if "user" = v_conversation.owner or ("user" = any(v_conversation.admins) and actor <> v_conversation.owner) then
    raise exception using errcode = 'MCFRB', message = 'admins can be removed only by the owner, and the owner by nobody';
  end if;
  v_conversation := chat_private.leave_group(v_conversation, "user");
  return chat_private.conversation_row(v_conversation, v_membership);
end
$$;
comment on function chat.remove_member(text, bigint, text) is
  'Removes a member from a group. The owner may remove anyone else, admins may remove members who are not '
  'admins. The removed member keeps the history up to now and gets nothing later. To remove yourself, use '
  'leave_conversation. Errors: MCNCV, MCNMB, MCKND, MCFRB.';
