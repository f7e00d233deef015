create or replace function chat_server.finish_attachment(attachment_id uuid)
returns jsonb
language plpgsql
volatile
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_attachment chat_private.attachments;
begin
  select * into v_attachment from chat_private.attachments a
  where a.attachment_id = finish_attachment.attachment_id and not a.complete
  for update;
  if not found then
    raise exception using errcode = 'MCATT', message = 'no such upload in progress';
  end if;
  select coalesce(sum(octet_length(ch.data)), 0) into v_attachment.size
  from chat_private.attachment_chunks ch where ch.attachment_id = finish_attachment.attachment_id;
  if v_attachment.size = 0 then
    -- The refusal undoes this statement's writes, so the empty row cannot be deleted here: it stays
    -- unfinished, for abandon_attachment or, within a day, prune_attachments.
    raise exception using errcode = 'MCAEM', message = 'the file is empty';
  end if;
  update chat_private.attachments a set size = v_attachment.size, complete = true
  where a.attachment_id = finish_attachment.attachment_id;
  return chat_private.attachment_json(v_attachment);
end
$$;
comment on function chat_server.finish_attachment(uuid) is
  'Completes an upload: returns {attachment_id, name, content_type, size}, size being the sum of its '
  'chunks. From now on the uploader may attach it to a message (send_message''s attachments). An empty '
  'upload is refused (call abandon_attachment then). Errors: MCATT, MCAEM.';
