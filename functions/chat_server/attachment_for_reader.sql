create or replace function chat_server.attachment_for_reader(reader text, attachment_id uuid)
returns table (name text, content_type text, size bigint, chunks integer)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  -- The uploader, or a member who can see the (not deleted) message now, by list_messages' rule: after
  -- their deletion point (or joining), not after they left.
  select a.name, a.content_type, a.size,
    (select count(*)::integer from chat_private.attachment_chunks ch where ch.attachment_id = a.attachment_id)
  from chat_private.attachments a
  where a.attachment_id = attachment_for_reader.attachment_id
    and a.complete
    and (
      a.uploader = chat_private.nfc(reader)
      or exists (
        select from chat_private.messages msg
        join chat_private.conversations c on c.conversation_id = msg.conversation_id
        join chat_private.memberships m on m.conversation_id = msg.conversation_id
        where msg.conversation_id = a.conversation_id and msg.seq = a.seq
          and msg.deleted_at is null
          and m.user_id = chat_private.nfc(reader)
          and msg.seq > m.cleared_seq
          and msg.seq <= chat_private.visible_seq(c, m)
      )
    )
$$;
comment on function chat_server.attachment_for_reader(text, uuid) is
  'The attachment''s name, content type, size and number of chunks, when the reader may download it: they '
  'uploaded it, or it is on a message they can see (as in list_messages). No row otherwise, which the '
  'server answers 404 whether or not the attachment exists.';
