create or replace function chat_admin.unsuspend_user(user_id text)
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
  unsuspend_user.user_id := chat_private.nfc(unsuspend_user.user_id);
  update chat_private.users u set suspended_at = null, suspended_until = null
  where u.user_id = unsuspend_user.user_id
  returning * into v_user;
  if not found then
    raise exception using errcode = 'MCUNU', message = format('unknown user %s', unsuspend_user.user_id);
  end if;
  return chat_private.profile(v_user);
end
$$;
comment on function chat_admin.unsuspend_user(text) is
  'Ends a user''s suspension at once. Errors: MCUNU.';
