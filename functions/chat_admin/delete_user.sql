create or replace function chat_admin.delete_user(user_id text)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_group chat_private.conversations;
begin
  delete_user.user_id := chat_private.nfc(delete_user.user_id);
  perform chat_private.require_user(delete_user.user_id);
  for v_group in
    select c.* from chat_private.conversations c
    join chat_private.memberships m on m.conversation_id = c.conversation_id
    where m.user_id = delete_user.user_id and m.left_seq is null and c.kind = 'group'
    order by c.conversation_id
    for update of c
  loop
    perform chat_private.leave_group(v_group, delete_user.user_id);
  end loop;
  -- Direct chats stay with the other user, history and all; a new user with the same id starts afresh.
  update chat_private.conversations c set direct_pair = null
  where c.direct_pair @> array[delete_user.user_id] and c.kind = 'direct';
  update chat_private.users u set blocked = array_remove(u.blocked, delete_user.user_id)
  where delete_user.user_id = any(u.blocked);
  delete from chat_private.users u where u.user_id = delete_user.user_id;
end
$$;
comment on function chat_admin.delete_user(text) is
  'Deletes a user. They leave all their groups (ownership passes on as in leave_conversation) and lose '
  'their inbox. The messages they sent stay in the conversations, still showing their user id as sender, '
  'so the other members'' history is intact; their direct chats stay in the other users'' inboxes but '
  'accept no new messages. A user created later with the same id starts with an empty mailbox. '
  'Errors: MCUNU.';
