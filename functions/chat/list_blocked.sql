create or replace function chat.list_blocked(actor text)
returns table (user_id text, display_name text)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select b.user_id, usr.display_name
  from unnest((chat_private.require_user(chat_private.nfc(actor))).blocked) with ordinality as b(user_id, position)
  left join chat_private.users usr on usr.user_id = b.user_id
  order by b.position
$$;
comment on function chat.list_blocked(text) is 'The users you blocked, in the order you blocked them. Errors: MCUNU.';
