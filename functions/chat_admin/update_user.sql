create or replace function chat_admin.update_user(
  user_id text,
  display_name text default null,
  password text default null,
  password_hash text default null,
  remove_password boolean default false
)
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
  update_user.user_id := chat_private.nfc(update_user.user_id);
  if num_nonnulls(password, update_user.password_hash) + (coalesce(remove_password, false))::int > 1 then
    raise exception using errcode = 'MCARG', message = 'give at most one of password, password_hash, remove_password';
  end if;
  update chat_private.users u
  set display_name = coalesce(chat_private.checked_label(update_user.display_name, 'display_name', false), u.display_name),
      password_hash = case
        when remove_password then null
        else coalesce(chat_private.hash_password(password), chat_private.checked_password_hash(update_user.password_hash), u.password_hash)
      end,
      updated_at = now()
  where u.user_id = update_user.user_id
  returning * into v_user;
  if not found then
    raise exception using errcode = 'MCUNU', message = format('unknown user %s', update_user.user_id);
  end if;
  return chat_private.profile(v_user);
end
$$;
comment on function chat_admin.update_user(text, text, text, text, boolean) is
  'Changes a user''s display_name and/or password (password, password_hash, or remove_password = true). '
  'Arguments left out keep their value. Errors: MCARG, MCHSH, MCUNU.';
