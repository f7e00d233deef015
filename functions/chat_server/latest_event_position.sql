create or replace function chat_server.latest_event_position()
returns bigint
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select greatest(
    (select max(e.position) from chat_private.events e),
    (select l.pruned_through from chat_private.event_log l)
  )
$$;
comment on function chat_server.latest_event_position() is
  'The position of the newest event: where a relay starts.';
