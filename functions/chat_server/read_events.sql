create or replace function chat_server.read_events(after bigint, max_rows integer default 1000)
returns table ("position" bigint, type text, recipients text[], payload jsonb)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select e.position, e.type, e.recipients, e.payload
  from chat_private.events e
  where e.position > after
  order by e.position
  limit max_rows
$$;
comment on function chat_server.read_events(bigint, integer) is
  'Events after a position, for every recipient, in commit order: what a relay fans out to its streams.';
