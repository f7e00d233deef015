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
