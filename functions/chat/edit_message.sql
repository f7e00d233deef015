create or replace function chat.edit_message(actor text, conversation_id bigint, seq bigint, body text)
returns chat.message
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_window integer := chat_private.setting('edit_window_seconds', 0);
  v_message chat_private.messages;
begin
  actor := chat_private.nfc(actor);
  perform chat_private.require_not_suspended(actor);
  v_message := chat_private.message_to_change(actor, edit_message.conversation_id, edit_message.seq);
  if v_message.sender is distinct from actor then
    raise exception using errcode = 'MCOWN', message = 'only its sender may edit a message';
  end if;
  perform chat_private.require_not_deleted(v_message);
  if v_window > 0 and v_message.sent_at < now() - make_interval(secs => v_window) then
    raise exception using errcode = 'MCLAT',
      message = format('a message may be edited for %s seconds after it was sent', v_window);
  end if;
  edit_message.body := chat_private.checked_body(edit_message.body, jsonb_array_length(v_message.attachments) > 0);
  perform chat_private.require_not_blocked(chat_private.conversation(edit_message.conversation_id, false),
    chat_private.require_user(actor));
  edit_message.body := chat_private.policy_body(actor, edit_message.conversation_id, edit_message.body,
    jsonb_array_length(v_message.attachments) > 0);
  if edit_message.body = v_message.body then
    return chat_private.message_row(v_message);
  end if;

  -- What it said before, for moderation (chat_admin.list_message_edits).
  insert into chat_private.message_edits (message_id, sender, body, written_at)
  values (v_message.message_id, v_message.sender, v_message.body, coalesce(v_message.edited_at, v_message.sent_at));

  update chat_private.messages msg
  set body = edit_message.body, edited_at = now(),
      search = chat_private.search_vector(edit_message.body)
  where msg.conversation_id = edit_message.conversation_id and msg.seq = edit_message.seq
  returning * into v_message;
  return chat_private.message_row(v_message);
end
$$;
comment on function chat.edit_message(text, bigint, bigint, text) is
  'Changes the body of a message you sent, for everyone: edited_at is set and the members get '
  'message.updated. Same body rules as send_message. What it said before stays where an admin can read it '
  '(chat_admin.list_message_edits). A DBA may limit how long after sending (microchatter.edit_window_seconds; '
  'default no limit). Editing to the same body changes nothing. Returns the message. '
  'Errors: MCNCV, MCNMB, MCNMS, MCOWN, MCDEL, MCLAT, MCEMB, MCLNG, MCBLK, MCSUS, MCMOD.';
