create or replace function chat_server.prune_events(retention interval default '30 days')
returns bigint
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_keep record;
  v_deleted bigint;
begin
  -- The log is cut at one position: the first event young enough to keep. Everything before it goes,
  -- so "older than the retained events" is a simple comparison with that position.
  select e.xid, e.event_id into v_keep
  from chat_private.events e
  where e.created_at >= now() - retention and e.xid < pg_snapshot_xmin(pg_current_snapshot())
  order by e.xid, e.event_id
  limit 1;
  if not found then
    select e.xid, e.event_id + 1 as event_id into v_keep
    from chat_private.events e
    where e.xid < pg_snapshot_xmin(pg_current_snapshot())
    order by e.xid desc, e.event_id desc
    limit 1;
  end if;
  if v_keep.xid is null then
    v_deleted := 0;
  else
    delete from chat_private.events e where (e.xid, e.event_id) < (v_keep.xid, v_keep.event_id);
    get diagnostics v_deleted = row_count;
    if v_deleted > 0 then
      -- A cursor below the cut may have missed a deleted event: the last one before the cut.
      update chat_private.event_log l set pruned_xid = v_keep.xid, pruned_event_id = v_keep.event_id - 1
      where (l.pruned_xid, l.pruned_event_id) < (v_keep.xid, v_keep.event_id - 1);
    end if;
  end if;
  delete from chat_private.stream_tickets t where t.expires_at < now();
  return v_deleted;
end
$$;
comment on function chat_server.prune_events(interval) is
  'Deletes events older than the retention (default 30 days) and expired stream tickets; returns how '
  'many events went. A client whose cursor is older gets a reset. The server calls it hourly.';
