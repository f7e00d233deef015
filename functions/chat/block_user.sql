create or replace function chat.block_user(actor text, "user" text)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  actor := chat_private.nfc(actor);
  "user" := chat_private.nfc("user");
  perform chat_private.require_user(actor);
  if actor = "user" then
    raise exception using errcode = 'MCSLF', message = 'you cannot block yourself';
  end if;
  perform chat_private.require_user("user");
  update chat_private.users u set blocked = array_append(u.blocked, "user")
  where u.user_id = actor and not "user" = any(u.blocked);
end
$$;
comment on function chat.block_user(text, text) is
  'Blocks a user: they can no longer send you direct messages, and your direct chat with them leaves your '
  'inbox and unread counts (its history is kept and comes back when you unblock). You cannot message '
  'them either until you unblock. In groups, blocking only stops them adding you to groups; group '
  'messages are shared by all members and still reach you. Blocking twice is harmless. Errors: MCSLF, MCUNU.';
