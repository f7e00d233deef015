--! Previous: sha1:8b90d8ac115f1ac2630d60aaa3ce460e3df218e0
--! Hash: sha1:7a148ef60813defc0ca42eb926aa34bd3f478988
--! Message: inline row builders so pages are not built row by row

--! Included chat_private/conversation_row.sql
-- Written as one row constructor so the planner inlines it: a multi-column select is not inlined,
-- and `(message_row(msg)).*` would then call it once per column (bench/sql.ts measured 1.1 ms a page).
create or replace function chat_private.message_row(msg chat_private.messages)
returns chat.message
language sql
immutable
as $$
  select row(msg.message_id, msg.conversation_id, msg.seq, msg.sender, msg.body, msg.client_id, msg.sent_at)::chat.message
$$;

-- Keyset cursor of the inbox: activity time in epoch microseconds and the conversation id.
create or replace function chat_private.inbox_cursor(last_activity_at timestamptz, conversation_id bigint)
returns text
language sql
stable -- extract() from timestamptz and bigint || text are only stable; declaring more blocks inlining
as $$
  select (extract(epoch from last_activity_at) * 1000000)::bigint || ':' || conversation_id
$$;

-- A conversation as member m sees it, as a one-row set: PostgreSQL inlines set-returning SQL functions
-- into a lateral join, where a function returning one composite is called row by row.
create or replace function chat_private.conversation_rows(c chat_private.conversations, m chat_private.memberships)
returns setof chat.conversation
language sql
stable
rows 1
as $$
  select
    c.conversation_id,
    c.kind,
    case when c.kind = 'direct' then coalesce(p.display_name, chat_private.peer(c, m.user_id)) else c.title end,
    chat_private.peer(c, m.user_id),
    c.members,
    c.owner,
    c.admins,
    (
      select to_jsonb(chat_private.message_row(msg))
      from chat_private.messages msg
      where msg.conversation_id = c.conversation_id
        and msg.seq = chat_private.visible_seq(c, m)
        and msg.seq > m.cleared_seq
    ),
    chat_private.unread(c, m),
    m.read_seq,
    chat_private.visible_seq(c, m),
    m.muted,
    m.left_seq is null,
    m.last_activity_at,
    c.created_at,
    chat_private.inbox_cursor(m.last_activity_at, c.conversation_id)
  from (select) as one
  left join chat_private.users p on p.user_id = chat_private.peer(c, m.user_id)
$$;

-- The same for one conversation.
create or replace function chat_private.conversation_row(c chat_private.conversations, m chat_private.memberships)
returns chat.conversation
language sql
stable
as $$
  select r from chat_private.conversation_rows(c, m) r
$$;
--! EndIncluded chat_private/conversation_row.sql
--! Included chat/list_conversations.sql
create or replace function chat.list_conversations(actor text, before text default null, "limit" integer default 20)
returns setof chat.conversation
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_blocked text[];
  v_before_at timestamptz := 'infinity';
  v_before_id bigint := 9223372036854775807;
begin
  if "limit" is null or "limit" not between 1 and 200 then
    raise exception using errcode = 'MCLIM', message = 'limit must be between 1 and 200';
  end if;
  if before is not null then
    if before !~ '^-?\d{1,18}:\d{1,18}$' then
      raise exception using errcode = 'MCARG', message = 'before must be the cursor of a conversation from the previous page';
    end if;
    v_before_at := 'epoch'::timestamptz + split_part(before, ':', 1)::bigint * interval '1 microsecond';
    v_before_id := split_part(before, ':', 2)::bigint;
  end if;
  v_blocked := (chat_private.require_user(actor)).blocked;

  -- The page is chosen on the inbox index first; only its rows are then dressed up.
  return query
  select r.*
  from (
    select c, m
    from chat_private.memberships m
    join chat_private.conversations c on c.conversation_id = m.conversation_id
    where m.user_id = actor
      and (m.last_activity_at, m.conversation_id) < (v_before_at, v_before_id)
      and chat_private.in_inbox(c, m, v_blocked)
    order by m.last_activity_at desc, m.conversation_id desc
    limit "limit"
  ) page
  cross join lateral chat_private.conversation_rows(page.c, page.m) r
  order by r.last_activity_at desc, r.conversation_id desc;
end
$$;
comment on function chat.list_conversations(text, text, integer) is
  'Your inbox, most recent activity first: each conversation with its kind, title (for a direct chat the '
  'other user), members, last message and unread count. Page with before = the cursor of the last '
  'conversation of the previous page; limit 1 to 200 (default 20). Chats you deleted stay out until a '
  'newer message arrives; direct chats with users you blocked stay out until you unblock them. '
  'Errors: MCLIM, MCARG, MCUNU.';
--! EndIncluded chat/list_conversations.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_private from public;
grant execute on all functions in schema chat, chat_admin to microchatter_app;
--! EndIncluded chat_private/privileges.sql
