create or replace function chat_admin.list_reports(status text default 'open', "limit" integer default 50)
returns table (
  report_id bigint,
  conversation_id bigint,
  seq bigint,
  sender text,
  reporter text,
  reason text,
  report_status text,
  action text,
  created_at timestamptz,
  resolved_at timestamptz,
  message jsonb
)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
begin
  if list_reports.status is null or list_reports.status not in ('open', 'resolved', 'all') then
    raise exception using errcode = 'MCARG', message = 'status must be open, resolved or all';
  end if;
  if "limit" is null or "limit" not between 1 and 200 then
    raise exception using errcode = 'MCLIM', message = 'limit must be between 1 and 200';
  end if;
  return query
  select r.report_id, r.conversation_id, r.seq, r.sender, r.reporter, r.reason, r.status, r.action,
    r.created_at, r.resolved_at, to_jsonb(chat_private.message_row(m))
  from chat_private.reports r
  left join chat_private.messages m on m.message_id = r.message_id
  where list_reports.status = 'all' or r.status = list_reports.status
  order by r.report_id
  limit "limit";
end
$$;
comment on function chat_admin.list_reports(text, integer) is
  'Reports of messages, oldest first, with the message as it is now (a tombstone once removed). status: '
  'open (the default), resolved or all. limit: 1 to 200. Errors: MCARG, MCLIM.';
