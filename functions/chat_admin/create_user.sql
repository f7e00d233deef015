create or replace function chat_admin.create_user(
  user_id text,
  display_name text default null,
  password text default null,
  password_hash text default null
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
  if password is not null and create_user.password_hash is not null then
    raise exception using errcode = 'MCARG', message = 'give password or password_hash, not both';
  end if;
  insert into chat_private.users (user_id, display_name, password_hash)
  values (
    chat_private.checked_user_id(create_user.user_id),
    chat_private.checked_label(create_user.display_name, 'display_name', false),
    coalesce(chat_private.hash_password(password), chat_private.checked_password_hash(create_user.password_hash))
  )
  on conflict (user_id) do nothing
  returning * into v_user;
  if not found then
    raise exception using errcode = 'MCEXS', message = format('user %s already exists', create_user.user_id);
  end if;
  return chat_private.profile(v_user);
end
$$;
comment on function chat_admin.create_user(text, text, text, text) is
  'Creates the mirror of a site user: user_id is the site''s own id (1 to 200 characters). Optional '
  'display_name, and a password (stored as bcrypt) or an existing password_hash (bcrypt, or legacy '
  'unsalted MD5 hex) for HTTP Basic logins. Errors: MCARG, MCHSH, MCEXS.';
