create or replace function chat_server.begin_attachment(uploader text, name text, content_type text)
returns uuid
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_attachment_id uuid;
begin
  uploader := chat_private.nfc(uploader);
  perform chat_private.require_user(uploader);
  insert into chat_private.attachments (uploader, name, content_type)
  values (uploader, chat_private.checked_attachment_name(begin_attachment.name),
          chat_private.checked_content_type(begin_attachment.content_type))
  returning attachment_id into v_attachment_id;
  return v_attachment_id;
end
$$;
comment on function chat_server.begin_attachment(text, text, text) is
  'Starts an upload by the user: returns the new attachment''s id, to which the server appends the bytes in '
  'chunks (append_attachment_chunk) and then finishes it (finish_attachment). name: 1 to 255 bytes, no '
  '"/", "\\" or control characters. content_type: a MIME type, else application/octet-stream. '
  'Errors: MCUNU, MCANM.';
