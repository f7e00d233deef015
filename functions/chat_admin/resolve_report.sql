create or replace function chat_admin.resolve_report(report_id bigint, action text)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_report chat_private.reports;
begin
  if action is null or action not in ('dismiss', 'remove_message', 'suspend_sender') then
    raise exception using errcode = 'MCARG', message = 'action must be dismiss, remove_message or suspend_sender';
  end if;
  select * into v_report from chat_private.reports r where r.report_id = resolve_report.report_id for update;
  if not found then
    raise exception using errcode = 'MCNRP', message = format('no report %s', report_id);
  end if;
  if action in ('remove_message', 'suspend_sender') then
    perform chat_admin.remove_message(v_report.conversation_id, v_report.seq, 'report ' || v_report.report_id || ': ' || v_report.reason);
  end if;
  if action = 'suspend_sender' and exists (select from chat_private.users u where u.user_id = v_report.sender) then
    perform chat_admin.suspend_user(v_report.sender, null);
  end if;
  -- A removed message's other open reports are settled with it.
  update chat_private.reports r set status = 'resolved', action = resolve_report.action, resolved_at = now()
  where r.report_id = v_report.report_id
     or (resolve_report.action <> 'dismiss' and r.message_id = v_report.message_id and r.status = 'open');
end
$$;
comment on function chat_admin.resolve_report(bigint, text) is
  'Settles a report. action: dismiss (nothing happens to the message), remove_message (tombstones it, as '
  'remove_message, and settles its other open reports) or suspend_sender (removes it and suspends its '
  'sender until unsuspended). Resolving again changes the recorded action. Errors: MCARG, MCNRP.';
