create or replace function chat_admin.remove_message(conversation_id bigint, seq bigint, reason text)
returns chat.message
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_message chat_private.messages;
begin
  if reason is null or reason !~ '\S' or length(reason) > 1000 then
    raise exception using errcode = 'MCARG', message = 'reason must be 1 to 1000 characters';
  end if;
  perform chat_private.conversation(remove_message.conversation_id, false);
  select * into v_message from chat_private.messages m
  where m.conversation_id = remove_message.conversation_id and m.seq = remove_message.seq
  for update;
  if not found then
    raise exception using errcode = 'MCNMS', message = format('no message %s in conversation %s', seq, conversation_id);
  end if;
  insert into chat_private.message_removals (message_id, reason)
  values (v_message.message_id, reason)
  on conflict (message_id) do update set reason = excluded.reason, removed_at = now();
  return chat_private.message_row(chat_private.tombstone(v_message));
end
$$;
comment on function chat_admin.remove_message(bigint, bigint, text) is
  'Removes a message for everyone, as a moderator: the same tombstone as delete_message (empty body, '
  'deleted_at set, no reactions, attachments or edit history) and message.deleted for the members. The '
  'reason (1 to 1000 characters) is kept for admins (list_reports). Returns the tombstone. '
  'Errors: MCARG, MCNCV, MCNMS.';
