create or replace function chat_admin.ensure_user(user_id text, display_name text default null)
returns chat.user_profile
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_user chat_private.users;
  v_name text := chat_private.checked_label(ensure_user.display_name, 'display_name', false);
begin
  ensure_user.user_id := chat_private.nfc(ensure_user.user_id);
  -- Racing first requests of one user: one insert wins, the others wait for it and update nothing.
  insert into chat_private.users as u (user_id, display_name)
  values (chat_private.checked_user_id(ensure_user.user_id), v_name)
  on conflict (user_id) do update
    set display_name = excluded.display_name, updated_at = now()
    where excluded.display_name is not null and u.display_name is distinct from excluded.display_name
  returning * into v_user;
  if not found then
    select * into v_user from chat_private.users u where u.user_id = ensure_user.user_id;
  end if;
  return chat_private.profile(v_user);
end
$$;
comment on function chat_admin.ensure_user(text, text) is
  'Creates the user if the site''s id is new, else keeps it; a given display_name replaces the stored one. '
  'The server calls it for the first token of a user it has not seen. Errors: MCARG.';
