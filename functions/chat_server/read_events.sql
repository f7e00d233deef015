create or replace function chat_server.read_events(after text, max_rows integer default 1000)
returns table (cursor text, type text, recipients text[], payload jsonb)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select chat_private.event_cursor(e.xid, e.event_id), e.type, e.recipients, e.payload
  from chat_private.events e, chat_private.parse_event_cursor(after) a
  where (e.xid, e.event_id) > (a.xid, a.event_id)
    and e.xid < pg_snapshot_xmin(pg_current_snapshot())
  order by e.xid, e.event_id
  limit max_rows
$$;
comment on function chat_server.read_events(text, integer) is
  'Events after a position, for every recipient, in log order: what a relay fans out to its streams. '
  'Only events of finished transactions are returned, so a later call never finds one before its cursor.';
