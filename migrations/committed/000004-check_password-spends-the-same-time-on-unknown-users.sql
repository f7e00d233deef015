--! Previous: sha1:7a148ef60813defc0ca42eb926aa34bd3f478988
--! Hash: sha1:6c88de2e737987c7921d807d7a8f5ad3609a57c2
--! Message: check_password spends the same time on unknown users

--! Included chat_admin/check_password.sql
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
--! EndIncluded chat_admin/check_password.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_private from public;
grant execute on all functions in schema chat, chat_admin to microchatter_app;
--! EndIncluded chat_private/privileges.sql
