-- The user row, or MCUNU when the site has not (or no longer) got such a user.
create or replace function chat_private.require_user(user_id text)
returns chat_private.users
language plpgsql
stable
as $$
#variable_conflict use_column
declare
  v_user chat_private.users;
begin
  select * into v_user from chat_private.users u where u.user_id = require_user.user_id;
  if not found then
    raise exception using errcode = 'MCUNU', message = format('unknown user %s', require_user.user_id);
  end if;
  return v_user;
end
$$;

-- A user id in Unicode normal form C. Sites' identity providers hand out the same name in NFC or
-- NFD ("é" as one code point or as "e" + U+0301); both must name one user, so every API function
-- passes the user ids it is given through this on entry, and ids are stored in NFC (docs/auth.md).
-- normalize() only works in a UTF8 database; in any other encoding the decomposed forms cannot occur
-- in the first place.
create or replace function chat_private.nfc(user_id text)
returns text
language sql
stable
parallel safe
as $$
  select case when pg_catalog.current_setting('server_encoding') = 'UTF8'
    then pg_catalog.normalize(user_id, 'NFC') else user_id end
$$;

-- The same for a list of user ids, in order; null stays null.
create or replace function chat_private.nfc(user_ids text[])
returns text[]
language sql
stable
parallel safe
as $$
  select case when user_ids is not null then
    array(select chat_private.nfc(u.id) from unnest(user_ids) with ordinality as u(id, position) order by u.position)
  end
$$;

-- A site user id, normalised to NFC: 1 to 200 characters, no control characters.
create or replace function chat_private.checked_user_id(user_id text)
returns text
language plpgsql
stable
as $$
begin
  user_id := chat_private.nfc(user_id);
  if user_id is null or length(user_id) not between 1 and 200 or user_id ~ '[[:cntrl:]]' then
    raise exception using errcode = 'MCARG',
      message = 'user_id must be 1 to 200 characters without control characters';
  end if;
  return user_id;
end
$$;

create or replace function chat_private.profile(u chat_private.users)
returns chat.user_profile
language sql
immutable
as $$
  select u.user_id, u.display_name, u.password_hash is not null, u.created_at, u.updated_at,
         u.share_read_receipts, u.share_presence
$$;
