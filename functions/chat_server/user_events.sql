create or replace function chat_server.user_events(user_id text, after text, max_rows integer default 1000)
returns table (cursor text, type text, payload jsonb)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_after record := chat_private.parse_event_cursor(after);
  v_log chat_private.event_log := (select l from chat_private.event_log l);
begin
  if (v_after.xid, v_after.event_id) < (v_log.pruned_xid, v_log.pruned_event_id) then
    raise exception using errcode = 'MCRST', message = 'event cursor older than the retained events: start afresh';
  end if;
  if v_after.xid >= pg_snapshot_xmax(pg_current_snapshot()) then
    raise exception using errcode = 'MCRST', message = 'unknown event cursor: start afresh';
  end if;
  return query
  select chat_private.event_cursor(e.xid, e.event_id), e.type, e.payload
  from chat_private.events e
  where e.recipients @> array[user_events.user_id]
    and (e.xid, e.event_id) > (v_after.xid, v_after.event_id)
    and e.xid < pg_snapshot_xmin(pg_current_snapshot())
  order by e.xid, e.event_id
  limit max_rows;
end
$$;
comment on function chat_server.user_events(text, text, integer) is
  'One user''s events after their cursor, in log order: what a resuming stream replays. Raises MCRST when '
  'the cursor is malformed, from elsewhere, or older than the retained events: the client must refetch.';
