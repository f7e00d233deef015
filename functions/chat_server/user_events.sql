create or replace function chat_server.user_events(user_id text, after bigint, max_rows integer default 1000)
returns table ("position" bigint, type text, payload jsonb)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
begin
  user_events.user_id := chat_private.nfc(user_events.user_id);
  if after < (select l.pruned_through from chat_private.event_log l) then
    raise exception using errcode = 'MCRST', message = 'event cursor older than the retained events: start afresh';
  end if;
  if after > (select s.last_value from chat_private.event_positions s) then
    raise exception using errcode = 'MCRST', message = 'unknown event cursor: start afresh';
  end if;
  return query
  select e.position, e.type, e.payload
  from chat_private.events e
  where e.recipients @> array[user_events.user_id] and e.position > after
  order by e.position
  limit max_rows;
end
$$;
comment on function chat_server.user_events(text, bigint, integer) is
  'One user''s events after their cursor, in commit order: what a resuming stream replays. Raises MCRST '
  'when the cursor is from elsewhere or older than the retained events: the client must refetch.';
