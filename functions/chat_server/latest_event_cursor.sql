create or replace function chat_server.latest_event_cursor()
returns text
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select coalesce(
    (select chat_private.event_cursor(e.xid, e.event_id)
     from chat_private.events e
     where e.xid < pg_snapshot_xmin(pg_current_snapshot())
     order by e.xid desc, e.event_id desc
     limit 1),
    (select chat_private.event_cursor(l.pruned_xid, l.pruned_event_id) from chat_private.event_log l)
  )
$$;
comment on function chat_server.latest_event_cursor() is
  'The position of the newest event that can be read now: where a relay starts.';
