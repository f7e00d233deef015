create or replace function chat_server.typing_audience(conversation_id bigint, user_id text)
returns text[]
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select chat_private.typing_audience(c, u)
  from chat_private.conversations c, chat_private.users u
  where c.conversation_id = typing_audience.conversation_id and u.user_id = chat_private.nfc(typing_audience.user_id)
$$;
comment on function chat_server.typing_audience(bigint, text) is
  'For the server: who gets this user''s typing in this conversation, for a notification too large to '
  'carry the list itself (a big group).';
