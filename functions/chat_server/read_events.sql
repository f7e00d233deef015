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
