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

-- A site user id: 1 to 200 characters, no control characters.
create or replace function chat_private.checked_user_id(user_id text)
returns text
language plpgsql
immutable
as $$
begin
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
  select u.user_id, u.display_name, u.password_hash is not null, u.created_at, u.updated_at
$$;
