create or replace function chat.report_message(actor text, conversation_id bigint, seq bigint, reason text)
returns table (report_id bigint, status text, created_at timestamptz)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations;
  v_message chat_private.messages;
  v_report chat_private.reports;
begin
  actor := chat_private.nfc(actor);
  if reason is null or reason !~ '\S' or length(reason) > 1000 then
    raise exception using errcode = 'MCARG', message = 'reason must be 1 to 1000 characters';
  end if;
  perform chat_private.require_user(actor);
  v_conversation := chat_private.conversation(report_message.conversation_id, false);
  -- A message one may not see is reported as not there (MCNMS), whether or not one is a member.
  begin
    v_message := chat_private.visible_message(v_conversation,
      chat_private.membership(actor, report_message.conversation_id, false), report_message.seq, false);
  exception when sqlstate 'MCNMB' then
    raise exception using errcode = 'MCNMS',
      message = format('no message %s in conversation %s', report_message.seq, report_message.conversation_id);
  end;
  insert into chat_private.reports (conversation_id, seq, message_id, sender, reporter, reason)
  values (v_message.conversation_id, v_message.seq, v_message.message_id, v_message.sender, actor, reason)
  on conflict do nothing
  returning * into v_report;
  if v_report.report_id is null then
    raise exception using errcode = 'MCRPT', message = 'you have reported this message already';
  end if;
  perform chat_private.enqueue_webhooks('message.reported', 'c:' || v_message.conversation_id,
    jsonb_build_object('report_id', v_report.report_id, 'conversation_id', v_message.conversation_id,
      'seq', v_message.seq, 'reporter', actor, 'reason', reason,
      'message', to_jsonb(chat_private.message_row(v_message))),
    v_report.created_at);
  return query select v_report.report_id, v_report.status, v_report.created_at;
end
$$;
comment on function chat.report_message(text, bigint, bigint, text) is
  'Reports a message you can see to the site''s moderators, with a reason (1 to 1000 characters). Once '
  'per message and user. Moderators see it in chat_admin.list_reports, and webhooks subscribed to '
  'message.reported get it. A message you cannot see (or one in a conversation you are not in) is '
  'MCNMS. Errors: MCARG, MCNCV, MCNMS, MCRPT.';
