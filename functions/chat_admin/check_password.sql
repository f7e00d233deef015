create or replace function chat_admin.check_password(user_id text, password text)
returns boolean
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_hash text;
begin
  check_password.user_id := chat_private.nfc(check_password.user_id);
  select u.password_hash into v_hash from chat_private.users u where u.user_id = check_password.user_id;
  if v_hash is null or password is null then
    -- Spend the same bcrypt work as for a real user, so timing does not tell which user ids exist.
    perform chat_private.password_matches(coalesce(password, ''), '$2a$10$umdp8t0ka7mPAVkXq0Q7J.ihc10jYuQiQUikGVsPxyZpFbGQI9.l6');
    return false;
  end if;
  if not chat_private.password_matches(password, v_hash) then
    return false;
  end if;
  -- A legacy MD5 hash is replaced by bcrypt the first time its password is proven.
  if v_hash !~ '^\$2' then
    update chat_private.users u set password_hash = chat_private.hash_password(password), updated_at = now()
    where u.user_id = check_password.user_id;
  end if;
  return true;
end
$$;
comment on function chat_admin.check_password(text, text) is
  'Whether password is the user''s password (false for unknown users and users without one). A legacy '
  'MD5 hash is upgraded to bcrypt on success.';
