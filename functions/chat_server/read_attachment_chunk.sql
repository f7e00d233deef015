create or replace function chat_server.read_attachment_chunk(attachment_id uuid, chunk integer)
returns bytea
language sql
stable
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
  select ch.data from chat_private.attachment_chunks ch
  where ch.attachment_id = read_attachment_chunk.attachment_id and ch.chunk = read_attachment_chunk.chunk
$$;
comment on function chat_server.read_attachment_chunk(uuid, integer) is
  'The bytes of chunk number `chunk` of an attachment (null when there is no such chunk). The server '
  'checks attachment_for_reader first.';
