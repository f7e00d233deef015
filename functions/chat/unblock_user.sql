create or replace function chat.unblock_user(actor text, "user" text)
returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  update chat_private.users u set blocked = array_remove(u.blocked, chat_private.nfc("user"))
  where u.user_id = (chat_private.require_user(chat_private.nfc(actor))).user_id and chat_private.nfc("user") = any(u.blocked)
$$;
comment on function chat.unblock_user(text, text) is
  'Unblocks a user; your direct chat with them, with its history, is back in your inbox. Unblocking a '
  'user you had not blocked does nothing. Errors: MCUNU.';
