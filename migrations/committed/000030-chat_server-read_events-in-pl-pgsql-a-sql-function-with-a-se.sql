--! Previous: sha1:826b87be47b1173332f2a035a00229db928f4cd1
--! Hash: sha1:b208930aad73210f6f165ed102799da10c831acc
--! Message: chat_server.read_events in PL/pgSQL: a SQL function with a SET clause is planned on every call, and the relay calls it once per wake-up

--! Included chat_server/read_events.sql
-- PL/pgSQL, not SQL: a SQL function with a SET clause is planned anew on every call, and the relay
-- calls this once per wake-up (160 µs a call against 120 µs this way, one row, embedded 17).
create or replace function chat_server.read_events(after bigint, max_rows integer default 1000)
returns table ("position" bigint, type text, recipients text[], payload jsonb)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  return query
  select e.position, e.type, e.recipients, e.payload
  from chat_private.events e
  where e.position > after
  order by e.position
  limit max_rows;
end
$$;
comment on function chat_server.read_events(bigint, integer) is
  'Events after a position, for every recipient, in commit order: what a relay fans out to its streams.';
--! EndIncluded chat_server/read_events.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
