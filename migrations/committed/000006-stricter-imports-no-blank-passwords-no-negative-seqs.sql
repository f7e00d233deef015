--! Previous: sha1:9208d36e158e7465d09c336fdec4d29c32d45dc8
--! Hash: sha1:b2706fb6a9d4f4223f0c65645bb9bb92c5bd952b
--! Message: stricter imports, no blank passwords, no negative seqs

--! Included chat_private/password.sql
-- Password hashing. bcrypt through pgcrypto; unsalted MD5 hex is accepted only as an imported legacy
-- hash and is replaced by bcrypt on the first successful login (chat_admin.check_password).

create or replace function chat_private.hash_password(password text)
returns text
language plpgsql
volatile
strict
as $$
begin
  -- HTTP Basic cannot carry an empty password, and a blank one protects nothing.
  if password !~ '\S' then
    raise exception using errcode = 'MCARG', message = 'password must not be empty or only white space';
  end if;
  return crypt(password, gen_salt('bf', 10));
end
$$;

create or replace function chat_private.password_matches(password text, password_hash text)
returns boolean
language sql
stable
strict
as $$
  select case
    when password_hash ~ '^[0-9a-f]{32}$' then md5(password) = password_hash
    else crypt(password, password_hash) = password_hash
  end
$$;

-- pgcrypto lives in whatever schema the database has it in; pin that schema on the two functions
-- that call it, so neither depends on the caller's search_path.
do $$
declare
  v_schema text := (
    select n.nspname
    from pg_catalog.pg_extension e
    join pg_catalog.pg_namespace n on n.oid = e.extnamespace
    where e.extname = 'pgcrypto'
  );
begin
  execute format('alter function chat_private.hash_password(text) set search_path = pg_catalog, %I, pg_temp', v_schema);
  execute format('alter function chat_private.password_matches(text, text) set search_path = pg_catalog, %I, pg_temp', v_schema);
end
$$;

-- Normalises an imported hash, or raises MCHSH: bcrypt ($2a$, $2b$, $2y$) or 32 hex digits of MD5.
create or replace function chat_private.checked_password_hash(password_hash text)
returns text
language plpgsql
immutable
as $$
begin
  if password_hash is null then
    return null;
  elsif password_hash ~ '^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$' then
    return password_hash;
  elsif password_hash ~ '^[0-9a-fA-F]{32}$' then
    return lower(password_hash);
  end if;
  raise exception using errcode = 'MCHSH',
    message = 'password_hash must be a bcrypt hash ($2a$/$2b$/$2y$) or an unsalted MD5 hex digest';
end
$$;
--! EndIncluded chat_private/password.sql
--! Included chat_admin/import_users.sql
create or replace function chat_admin.import_users(users jsonb, out inserted bigint, out updated bigint)
returns record
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_max integer := chat_private.setting('max_import_users', 100000);
  v_key text;
begin
  if jsonb_typeof(users) is distinct from 'array' then
    raise exception using errcode = 'MCARG', message = 'users must be a JSON array of {user_id, display_name?, password_hash?}';
  end if;
  if jsonb_array_length(users) > v_max then
    raise exception using errcode = 'MCLIM', message = format('at most %s users per import', v_max);
  end if;
  if exists (select from jsonb_array_elements(users) e where jsonb_typeof(e) <> 'object') then
    raise exception using errcode = 'MCARG', message = 'each user must be a JSON object';
  end if;
  -- A misspelt key, or a plain-text "password", must not pass silently as a user without one.
  select k into v_key
  from jsonb_array_elements(users) e, jsonb_object_keys(e) k
  where k not in ('user_id', 'display_name', 'password_hash')
  limit 1;
  if found then
    raise exception using errcode = 'MCARG',
      message = format('unknown key %s: a user is {user_id, display_name?, password_hash?}', v_key);
  end if;
  if exists (
    select from jsonb_array_elements(users) e
    where jsonb_typeof(e -> 'user_id') is distinct from 'string'
       or jsonb_typeof(e -> 'display_name') not in ('string', 'null')
       or jsonb_typeof(e -> 'password_hash') not in ('string', 'null')
  ) then
    raise exception using errcode = 'MCARG',
      message = 'user_id must be a string; display_name and password_hash strings or null';
  end if;

  -- One statement for the whole batch. A user listed twice counts once (the last entry wins); an
  -- unchanged user is not written, so importing the same list again changes nothing.
  with incoming as (
    select distinct on (x.user_id)
      chat_private.checked_user_id(x.user_id) as user_id,
      chat_private.checked_label(x.display_name, 'display_name', false) as display_name,
      chat_private.checked_password_hash(x.password_hash) as password_hash
    from rows from (jsonb_to_recordset(users) as (user_id text, display_name text, password_hash text))
      with ordinality as x(user_id, display_name, password_hash, position)
    order by x.user_id, x.position desc
  ),
  written as (
    insert into chat_private.users as u (user_id, display_name, password_hash)
    select i.user_id, i.display_name, i.password_hash from incoming i
    on conflict (user_id) do update
      set display_name = coalesce(excluded.display_name, u.display_name),
          password_hash = coalesce(excluded.password_hash, u.password_hash),
          updated_at = now()
      where (u.display_name, u.password_hash) is distinct from
            (coalesce(excluded.display_name, u.display_name), coalesce(excluded.password_hash, u.password_hash))
    returning (xmax = 0) as is_new
  )
  select count(*) filter (where is_new), count(*) filter (where not is_new) into inserted, updated from written;
end
$$;
comment on function chat_admin.import_users(jsonb) is
  'Creates or updates many users in one call: users is a JSON array of {user_id, display_name?, '
  'password_hash?} (bcrypt, or legacy unsalted MD5 hex, replaced by bcrypt at the first login). Idempotent: '
  'importing the same list again changes nothing. At most 100000 per call. Returns how many users were '
  'inserted and how many updated. Errors: MCARG, MCHSH, MCLIM.';
--! EndIncluded chat_admin/import_users.sql
--! Included chat/list_messages.sql
create or replace function chat.list_messages(
  actor text,
  conversation_id bigint,
  before_seq bigint default null,
  after_seq bigint default null,
  "limit" integer default 50
)
returns setof chat.message
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations;
  v_membership chat_private.memberships;
  v_after bigint;
  v_before bigint;
begin
  if "limit" is null or "limit" not between 1 and 200 then
    raise exception using errcode = 'MCLIM', message = 'limit must be between 1 and 200';
  end if;
  if before_seq < 0 or after_seq < 0 then
    raise exception using errcode = 'MCARG', message = 'before_seq and after_seq must not be negative';
  end if;
  v_conversation := chat_private.conversation(list_messages.conversation_id, false);
  v_membership := chat_private.membership(actor, list_messages.conversation_id, false);
  -- Nothing from before the member deleted the chat (or joined), nothing after they left.
  v_after := greatest(v_membership.cleared_seq, after_seq);
  v_before := least(chat_private.visible_seq(v_conversation, v_membership) + 1, before_seq);

  if after_seq is not null and before_seq is null then
    -- Paging forward: the `limit` messages right after after_seq.
    return query
    select page.* from (
      select (chat_private.message_row(msg)).*
      from chat_private.messages msg
      where msg.conversation_id = list_messages.conversation_id and msg.seq > v_after and msg.seq < v_before
      order by msg.seq
      limit "limit"
    ) page
    order by page.seq desc;
  else
    return query
    select (chat_private.message_row(msg)).*
    from chat_private.messages msg
    where msg.conversation_id = list_messages.conversation_id and msg.seq > v_after and msg.seq < v_before
    order by msg.seq desc
    limit "limit";
  end if;
end
$$;
comment on function chat.list_messages(text, bigint, bigint, bigint, integer) is
  'A page of a conversation''s messages, newest first. Without before_seq/after_seq: the latest messages. '
  'before_seq: the `limit` messages just before it (page back with the smallest seq you have). '
  'after_seq: the `limit` messages just after it (catch up with the largest seq you have). limit 1 to 200 '
  '(default 50). Never shows what you deleted, or what was sent before you joined or after you left. '
  'Errors: MCLIM, MCNCV, MCNMB.';
--! EndIncluded chat/list_messages.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
