create or replace function chat_server.abandon_attachment(attachment_id uuid)
returns void
language sql
volatile
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
  delete from chat_private.attachments a
  where a.attachment_id = abandon_attachment.attachment_id and not a.complete
$$;
comment on function chat_server.abandon_attachment(uuid) is
  'Deletes an upload that was not finished (too large, aborted, empty) with its chunks. Nothing happens '
  'when there is no such unfinished upload.';
