create or replace function chat_server.append_attachment_chunk(attachment_id uuid, chunk integer, data bytea)
returns void
language plpgsql
volatile
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
begin
  -- A share lock: chunks may arrive on several connections, but finish_attachment waits for them.
  perform from chat_private.attachments a
  where a.attachment_id = append_attachment_chunk.attachment_id and not a.complete
  for share;
  if not found then
    raise exception using errcode = 'MCATT', message = 'no such upload in progress';
  end if;
  if chunk < 0 then
    raise exception using errcode = 'MCARG', message = 'chunk must not be negative';
  end if;
  -- Writing a chunk again replaces it, so a retried write is harmless.
  insert into chat_private.attachment_chunks as ch (attachment_id, chunk, data)
  values (append_attachment_chunk.attachment_id, chunk, data)
  on conflict (attachment_id, chunk) do update set data = excluded.data;
end
$$;
comment on function chat_server.append_attachment_chunk(uuid, integer, bytea) is
  'Stores chunk number `chunk` (0, 1, 2…) of an upload that is not finished yet; the server writes at '
  'most 256 KiB per chunk. Errors: MCATT, MCARG.';
