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

  -- One statement for the whole batch. A user listed twice counts once (the last entry wins), also
  -- when the two spellings differ only in Unicode form (ids are compared in NFC); an unchanged user
  -- is not written, so importing the same list again changes nothing.
  with incoming as (
    select distinct on (x.user_id)
      x.user_id,
      chat_private.checked_label(x.display_name, 'display_name', false) as display_name,
      chat_private.checked_password_hash(x.password_hash) as password_hash
    from (
      select chat_private.checked_user_id(r.user_id) as user_id, r.display_name, r.password_hash, r.position
      from rows from (jsonb_to_recordset(users) as (user_id text, display_name text, password_hash text))
        with ordinality as r(user_id, display_name, password_hash, position)
    ) x
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
