create or replace function chat.create_group(actor text, title text, members text[] default '{}')
returns chat.conversation
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_conversation chat_private.conversations;
begin
  actor := chat_private.nfc(actor);
  perform chat_private.require_not_suspended(actor);
  members := chat_private.nfc(members);
  perform chat_private.require_user(actor);
  insert into chat_private.conversations (kind, title, members, owner, admins)
  values ('group', chat_private.checked_label(title, 'title', true), '{}', actor, array[actor])
  returning * into v_conversation;
  v_conversation := chat_private.join_group(v_conversation, actor, array_prepend(actor, members));
  return chat_private.conversation_row(v_conversation, chat_private.membership(actor, v_conversation.conversation_id, true));
end
$$;
comment on function chat.create_group(text, text, text[]) is
  'Creates a group conversation with a title (1 to 200 characters) and you as its owner, and adds the '
  'given members (at most 1000 in all, microchatter.max_group_members). A user who blocked you cannot be '
  'added. Returns the group. Errors: MCARG, MCUNU, MCBLK, MCFUL, MCSUS.';
