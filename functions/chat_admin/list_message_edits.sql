create or replace function chat_admin.list_message_edits(conversation_id bigint, seq bigint)
returns table (body text, written_at timestamptz, replaced_at timestamptz)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select e.body, e.written_at, e.replaced_at
  from chat_private.messages msg
  join chat_private.message_edits e on e.message_id = msg.message_id
  where msg.conversation_id = list_message_edits.conversation_id and msg.seq = list_message_edits.seq
  order by e.replaced_at, e.edit_id
$$;
comment on function chat_admin.list_message_edits(bigint, bigint) is
  'What a message said before each edit, oldest first: the earlier body, when it was written (sent or '
  'last edited) and when an edit replaced it. For moderation. Deleting the message deletes its history. '
  'No row for a message never edited, or no such message.';
