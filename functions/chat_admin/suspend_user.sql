create or replace function chat_admin.suspend_user(user_id text, "until" timestamptz default null)
returns chat.user_profile
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_user chat_private.users;
begin
  suspend_user.user_id := chat_private.nfc(suspend_user.user_id);
  update chat_private.users u set suspended_at = now(), suspended_until = "until"
  where u.user_id = suspend_user.user_id
  returning * into v_user;
  if not found then
    raise exception using errcode = 'MCUNU', message = format('unknown user %s', suspend_user.user_id);
  end if;
  return chat_private.profile(v_user);
end
$$;
comment on function chat_admin.suspend_user(text, timestamptz) is
  'Suspends a user until a time (or, without one, until unsuspend_user): they can still sign in, read '
  'and receive messages, but sending, editing, reacting, creating groups, adding members and renaming '
  'are refused with MCSUS. Errors: MCUNU.';
