-- An event's position in the log, and the resume cursor a client holds: "<xid>-<event_id>".
--
-- Positions are ordered by (transaction id, event id), and a reader only takes events of
-- transactions older than every transaction still running (the snapshot's xmin). Those are all
-- finished, so nothing can later commit below a position already read: ids from a sequence are not
-- handed out in commit order, but this order is final once read (docs/realtime.md).
create or replace function chat_private.event_cursor(xid xid8, event_id bigint)
returns text
language sql
immutable
as $$
  select xid::text || '-' || event_id
$$;

-- Parses a cursor, or raises MCRST: the client must start afresh (reset).
create or replace function chat_private.parse_event_cursor(cursor text, out xid xid8, out event_id bigint)
language plpgsql
immutable
as $$
begin
  if cursor is null or cursor !~ '^\d{1,20}-\d{1,18}$' then
    raise exception using errcode = 'MCRST', message = 'unknown event cursor: start afresh';
  end if;
  xid := split_part(cursor, '-', 1)::xid8;
  event_id := split_part(cursor, '-', 2)::bigint;
end
$$;
