--! Previous: sha1:0f6629df1bc2b193ea4fd66a7a101b3c972a48fe
--! Hash: sha1:54505a8fc81c7278abc97878e849165ba1ebd21f
--! Message: Moderation: the chat_policy.before_send hook, reports, remove_message, suspension

-- Moderation: the site's policy hook (chat_policy.before_send), reports, removal by moderators,
-- suspension (docs/moderation.md).
create schema if not exists chat_policy;

alter table chat_private.users add column if not exists suspended_at timestamptz;
alter table chat_private.users add column if not exists suspended_until timestamptz;

create table if not exists chat_private.reports (
  report_id bigint generated always as identity primary key,
  conversation_id bigint not null,
  seq bigint not null,
  message_id bigint not null references chat_private.messages (message_id) on delete cascade,
  -- The message's sender, kept for suspend_sender; the reporter, who may report a message once.
  sender text not null,
  reporter text not null references chat_private.users (user_id) on delete cascade,
  reason text not null,
  status text not null default 'open' check (status in ('open', 'resolved')),
  action text,
  created_at timestamptz not null default now(),
  resolved_at timestamptz,
  unique (message_id, reporter)
);
create index if not exists reports_open_idx on chat_private.reports (report_id) where status = 'open';

-- Why a moderator removed a message: for admins only, never in the tombstone members see.
create table if not exists chat_private.message_removals (
  message_id bigint primary key references chat_private.messages (message_id) on delete cascade,
  reason text not null,
  removed_at timestamptz not null default now()
);

-- The hook is the site's to replace: created only when it does not exist, never replaced here.
do $do$
begin
  if not exists (
    select from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'chat_policy' and p.proname = 'before_send'
  ) then
--! Included chat_policy/before_send.sql
-- The site's policy hook, shipped as a no-op. A site replaces it with its own rules:
--
--   create or replace function chat_policy.before_send(actor text, conversation_id bigint, body text)
--   returns text language plpgsql as $$ … $$;
--
-- (docs/moderation.md has a word filter). It returns the body to store, possibly rewritten, or raises
-- MCMOD to refuse the message. It is called by send_message and edit_message, in their transaction.
-- Migrations create it only when it does not exist, so a site's own version survives upgrades: this
-- file is included inside a DO block that checks pg_proc first.
create function chat_policy.before_send(actor text, conversation_id bigint, body text)
returns text
language sql
stable
as $fn$
  select body
$fn$;
comment on function chat_policy.before_send(text, bigint, text) is
  'The site''s policy hook for sends and edits: returns the body to store (possibly rewritten) or raises '
  'MCMOD. Ships as a no-op; replace it with create or replace (docs/moderation.md).';
--! EndIncluded chat_policy/before_send.sql
    revoke all on function chat_policy.before_send(text, bigint, text) from public;
  end if;
end
$do$;

--! Included chat_private/moderation.sql
-- Moderation rules shared by the writing functions: suspension, the site's policy hook, tombstones.

-- A suspended user can read and receive, but not send, edit, react, create groups or add members.
create or replace function chat_private.suspended(u chat_private.users)
returns boolean
language sql
stable
as $$
  select u.suspended_at is not null and (u.suspended_until is null or u.suspended_until > now())
$$;

create or replace function chat_private.require_not_suspended(u chat_private.users)
returns void
language plpgsql
stable
as $$
begin
  if chat_private.suspended(u) then
    raise exception using errcode = 'MCSUS',
      message = case when u.suspended_until is null then 'your account is suspended'
        else format('your account is suspended until %s', u.suspended_until) end;
  end if;
end
$$;

create or replace function chat_private.require_not_suspended(actor text)
returns void
language plpgsql
stable
as $$
declare
  v_user chat_private.users;
begin
  select * into v_user from chat_private.users u where u.user_id = actor;
  if found then
    perform chat_private.require_not_suspended(v_user);
  end if;
end
$$;

-- The body after the site's hook (chat_policy.before_send). Our own refusals pass through as raised;
-- anything else the hook raises (a bug in it, a missing table) is answered as MCMOD, never a 500, and
-- logged in PostgreSQL's log with what it was. The result is checked like any body.
create or replace function chat_private.policy_body(actor text, conversation_id bigint, body text, has_attachments boolean)
returns text
language plpgsql
volatile
as $$
declare
  v_body text;
  v_state text;
  v_message text;
begin
  begin
    v_body := chat_policy.before_send(actor, conversation_id, body);
  exception when others then
    get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
    if v_state like 'MC___' then
      raise;
    end if;
    raise warning 'chat_policy.before_send failed with % (%): answered as MCMOD', v_state, v_message;
    raise exception using errcode = 'MCMOD', message = 'the message was refused by the site''s policy';
  end;
  if v_body is null then
    raise exception using errcode = 'MCMOD', message = 'the message was refused by the site''s policy';
  end if;
  return chat_private.checked_body(v_body, has_attachments);
end
$$;

-- Turns a message into the tombstone delete_message leaves: same seq, sender and times; its body,
-- reactions, attachments (bytes too), search entry and edit history are gone.
create or replace function chat_private.tombstone(msg chat_private.messages)
returns chat_private.messages
language plpgsql
volatile
as $$
declare
  v_message chat_private.messages;
begin
  delete from chat_private.message_edits e where e.message_id = msg.message_id;
  delete from chat_private.attachments a where a.conversation_id = msg.conversation_id and a.seq = msg.seq;
  update chat_private.messages m
  set body = '', reactions = '[]', attachments = '[]', search = null, deleted_at = coalesce(m.deleted_at, now())
  where m.conversation_id = msg.conversation_id and m.seq = msg.seq
  returning * into v_message;
  return v_message;
end
$$;
--! EndIncluded chat_private/moderation.sql
--! Included chat/report_message.sql
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
--! EndIncluded chat/report_message.sql
--! Included chat_admin/list_reports.sql
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
--! EndIncluded chat_admin/list_reports.sql
--! Included chat_admin/remove_message.sql
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
--! EndIncluded chat_admin/remove_message.sql
--! Included chat_admin/suspend_user.sql
create or replace function chat_admin.suspend_user(user_id text, "until" timestamptz default null)
returns chat.user_profile
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_user chat_private.users;
begin
  suspend_user.user_id := chat_private.nfc(suspend_user.user_id);
  update chat_private.users u set suspended_at = now(), suspended_until = "until"
  where u.user_id = suspend_user.user_id
  returning * into v_user;
  if not found then
    raise exception using errcode = 'MCUNU', message = format('unknown user %s', suspend_user.user_id);
  end if;
  return chat_private.profile(v_user);
end
$$;
comment on function chat_admin.suspend_user(text, timestamptz) is
  'Suspends a user until a time (or, without one, until unsuspend_user): they can still sign in, read '
  'and receive messages, but sending, editing, reacting, creating groups, adding members and renaming '
  'are refused with MCSUS. Errors: MCUNU.';
--! EndIncluded chat_admin/suspend_user.sql
--! Included chat_admin/unsuspend_user.sql
create or replace function chat_admin.unsuspend_user(user_id text)
returns chat.user_profile
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_user chat_private.users;
begin
  unsuspend_user.user_id := chat_private.nfc(unsuspend_user.user_id);
  update chat_private.users u set suspended_at = null, suspended_until = null
  where u.user_id = unsuspend_user.user_id
  returning * into v_user;
  if not found then
    raise exception using errcode = 'MCUNU', message = format('unknown user %s', unsuspend_user.user_id);
  end if;
  return chat_private.profile(v_user);
end
$$;
comment on function chat_admin.unsuspend_user(text) is
  'Ends a user''s suspension at once. Errors: MCUNU.';
--! EndIncluded chat_admin/unsuspend_user.sql
--! Included chat_admin/resolve_report.sql
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
--! EndIncluded chat_admin/resolve_report.sql
--! Included chat/send_message.sql
create or replace function chat.send_message(
  actor text,
  recipient text default null,
  conversation_id bigint default null,
  body text default null,
  client_id text default null,
  reply_to_seq bigint default null,
  attachments text[] default null
)
returns chat.message
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation_id bigint := send_message.conversation_id;
  v_conversation chat_private.conversations;
  v_sender chat_private.users;
  v_membership chat_private.memberships;
  v_message chat_private.messages;
  v_answered chat_private.messages;
begin
  actor := chat_private.nfc(actor);
  recipient := chat_private.nfc(recipient);
  send_message.body := chat_private.checked_body(send_message.body, cardinality(attachments) > 0);
  if length(send_message.client_id) > 200 then
    raise exception using errcode = 'MCARG', message = 'client_id must be at most 200 characters';
  end if;
  if (recipient is null) = (v_conversation_id is null) then
    raise exception using errcode = 'MCARG', message = 'give either recipient or conversation_id';
  end if;
  v_sender := chat_private.require_user(actor);
  perform chat_private.require_not_suspended(v_sender);
  if recipient is not null then
    v_conversation_id := chat_private.direct_conversation(actor, recipient);
  end if;

  v_conversation := chat_private.conversation(v_conversation_id, true);
  v_membership := chat_private.membership(actor, v_conversation_id, true);
  perform chat_private.require_not_blocked(v_conversation, v_sender);

  -- A retry with the same client_id returns the message it already created.
  if send_message.client_id is not null then
    select * into v_message from chat_private.messages msg
    where msg.conversation_id = v_conversation_id and msg.sender = actor and msg.client_id = send_message.client_id;
    if found then
      return chat_private.message_row(v_message);
    end if;
  end if;

  -- A quote reply answers a message the sender can see; not a deleted one.
  if reply_to_seq is not null then
    v_answered := chat_private.visible_message(v_conversation, v_membership, reply_to_seq, false);
    perform chat_private.require_not_deleted(v_answered);
  end if;

  send_message.body := chat_private.policy_body(actor, v_conversation_id, send_message.body, cardinality(attachments) > 0);
  perform chat_private.take_send_token(actor);

  update chat_private.conversations c set last_seq = c.last_seq + 1, last_activity_at = now()
  where c.conversation_id = v_conversation_id
  returning * into v_conversation;

  insert into chat_private.messages (conversation_id, seq, sender, body, client_id, reply_to_seq, attachments, search)
  values (v_conversation_id, v_conversation.last_seq, actor, send_message.body, send_message.client_id, reply_to_seq,
          case when cardinality(attachments) > 0
            then chat_private.attach(actor, attachments, v_conversation_id, v_conversation.last_seq) else '[]' end,
          chat_private.search_vector(send_message.body))
  returning * into v_message;

  -- Every current member sees new activity (a deleted chat comes back); the sender has read it.
  update chat_private.memberships m
  set last_activity_at = v_conversation.last_activity_at,
      hidden = false,
      read_seq = case when m.user_id = actor then v_message.seq else m.read_seq end,
      read_at = case when m.user_id = actor then v_message.sent_at else m.read_at end
  where m.conversation_id = v_conversation_id and m.left_seq is null;

  return chat_private.message_row(v_message);
end
$$;
comment on function chat.send_message(text, text, bigint, text, text, bigint, text[]) is
  'Sends a message, to a user (recipient: starts or continues your direct chat with them) or into a '
  'conversation you are a member of (conversation_id). Give exactly one of the two. body: 1 to 4000 '
  'characters (microchatter.max_body_length); may be empty when the message has attachments. client_id: '
  'your own id for the message; sending again with the same client_id returns the first message instead '
  'of storing a second. reply_to_seq: the seq of a message of this conversation you can see that this one '
  'answers (a quote reply). attachments: up to 10 ids of your own finished uploads (POST /attachments) not '
  'attached to anything yet; they are attached in the same transaction, or nothing is stored. Returns the '
  'message. Sessions that set microchatter.send_rate_per_minute (the server does) may send that many per '
  'minute per user. Errors: MCEMB, MCLNG, MCARG, MCUNU, MCSLF, MCNCV, MCNMB, MCBLK, MCNMS, MCDEL, MCATT, '
  'MCLIM, MCRAT, MCSUS, MCMOD.';
--! EndIncluded chat/send_message.sql
--! Included chat/edit_message.sql
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
--! EndIncluded chat/edit_message.sql
--! Included chat/react.sql
create or replace function chat.react(actor text, conversation_id bigint, seq bigint, emoji text)
returns chat.message
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_message chat_private.messages;
  v_reactions jsonb;
begin
  actor := chat_private.nfc(actor);
  perform chat_private.require_not_suspended(actor);
  emoji := chat_private.checked_emoji(emoji);
  v_message := chat_private.message_to_change(actor, react.conversation_id, react.seq);
  perform chat_private.require_not_deleted(v_message);
  perform chat_private.require_not_blocked(chat_private.conversation(react.conversation_id, false),
    chat_private.require_user(actor));
  v_reactions := chat_private.with_reaction(v_message.reactions, emoji, actor,
    chat_private.setting('max_reactions_per_message', 50));
  if v_reactions = v_message.reactions then
    return chat_private.message_row(v_message);
  end if;
  update chat_private.messages msg set reactions = v_reactions
  where msg.conversation_id = react.conversation_id and msg.seq = react.seq
  returning * into v_message;
  return chat_private.message_row(v_message);
end
$$;
comment on function chat.react(text, bigint, bigint, text) is
  'Adds your reaction `emoji` (1 to 32 characters, no white space) to a message; reacting again with the '
  'same emoji changes nothing. A message has at most microchatter.max_reactions_per_message (50) different '
  'emoji. The members get message.updated. Returns the message. '
  'Errors: MCEMO, MCNCV, MCNMB, MCNMS, MCDEL, MCRXN, MCBLK, MCSUS.';
--! EndIncluded chat/react.sql
--! Included chat/unreact.sql
create or replace function chat.unreact(actor text, conversation_id bigint, seq bigint, emoji text)
returns chat.message
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_message chat_private.messages;
  v_reactions jsonb;
begin
  actor := chat_private.nfc(actor);
  perform chat_private.require_not_suspended(actor);
  emoji := chat_private.checked_emoji(emoji);
  v_message := chat_private.message_to_change(actor, unreact.conversation_id, unreact.seq);
  v_reactions := chat_private.without_reaction(v_message.reactions, emoji, actor);
  if v_reactions = v_message.reactions then
    return chat_private.message_row(v_message);
  end if;
  update chat_private.messages msg set reactions = v_reactions
  where msg.conversation_id = unreact.conversation_id and msg.seq = unreact.seq
  returning * into v_message;
  return chat_private.message_row(v_message);
end
$$;
comment on function chat.unreact(text, bigint, bigint, text) is
  'Takes back your reaction `emoji` from a message; nothing changes when you had not reacted so (or the '
  'message was deleted). The members get message.updated. Returns the message. '
  'Errors: MCEMO, MCNCV, MCNMB, MCNMS, MCSUS.';
--! EndIncluded chat/unreact.sql
--! Included chat/create_group.sql
create or replace function chat.create_group(actor text, title text, members text[] default '{}')
returns chat.conversation
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_conversation chat_private.conversations;
begin
  actor := chat_private.nfc(actor);
  perform chat_private.require_not_suspended(actor);
  members := chat_private.nfc(members);
  perform chat_private.require_user(actor);
  insert into chat_private.conversations (kind, title, members, owner, admins)
  values ('group', chat_private.checked_label(title, 'title', true), '{}', actor, array[actor])
  returning * into v_conversation;
  v_conversation := chat_private.join_group(v_conversation, actor, array_prepend(actor, members));
  return chat_private.conversation_row(v_conversation, chat_private.membership(actor, v_conversation.conversation_id, true));
end
$$;
comment on function chat.create_group(text, text, text[]) is
  'Creates a group conversation with a title (1 to 200 characters) and you as its owner, and adds the '
  'given members (at most 1000 in all, microchatter.max_group_members). A user who blocked you cannot be '
  'added. Returns the group. Errors: MCARG, MCUNU, MCBLK, MCFUL, MCSUS.';
--! EndIncluded chat/create_group.sql
--! Included chat/add_members.sql
create or replace function chat.add_members(actor text, conversation_id bigint, members text[])
returns chat.conversation
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(add_members.conversation_id, true);
  v_membership chat_private.memberships := chat_private.membership(chat_private.nfc(actor), add_members.conversation_id, true);
begin
  actor := chat_private.nfc(actor);
  perform chat_private.require_not_suspended(actor);
  members := chat_private.nfc(members);
  perform chat_private.require_group_admin(v_conversation, actor);
  v_conversation := chat_private.join_group(v_conversation, actor, add_members.members);
  return chat_private.conversation_row(v_conversation, v_membership);
end
$$;
comment on function chat.add_members(text, bigint, text[]) is
  'Adds users to a group (owner and admins only). New members see the messages sent from now on, not '
  'the history before; users already in the group are skipped; former members come back. '
  'Errors: MCNCV, MCNMB, MCKND, MCFRB, MCUNU, MCBLK, MCFUL, MCSUS.';
--! EndIncluded chat/add_members.sql
--! Included chat/rename_conversation.sql
create or replace function chat.rename_conversation(actor text, conversation_id bigint, title text)
returns chat.conversation
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(rename_conversation.conversation_id, true);
  v_membership chat_private.memberships := chat_private.membership(chat_private.nfc(actor), rename_conversation.conversation_id, true);
begin
  actor := chat_private.nfc(actor);
  perform chat_private.require_not_suspended(actor);
  perform chat_private.require_group_admin(v_conversation, actor);
  update chat_private.conversations c set title = chat_private.checked_label(rename_conversation.title, 'title', true)
  where c.conversation_id = rename_conversation.conversation_id
  returning * into v_conversation;
  return chat_private.conversation_row(v_conversation, v_membership);
end
$$;
comment on function chat.rename_conversation(text, bigint, text) is
  'Renames a group (owner and admins only); title 1 to 200 characters. Errors: MCARG, MCNCV, MCNMB, MCKND, MCFRB, MCSUS.';
--! EndIncluded chat/rename_conversation.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
