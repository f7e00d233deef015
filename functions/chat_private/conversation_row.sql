-- Written as one row constructor so the planner inlines it: a multi-column select is not inlined,
-- and `(message_row(msg)).*` would then call it once per column (bench/sql.ts measured 1.1 ms a page).
create or replace function chat_private.message_row(msg chat_private.messages)
returns chat.message
language sql
immutable
as $$
  select row(msg.message_id, msg.conversation_id, msg.seq, msg.sender, msg.body, msg.client_id, msg.sent_at,
    msg.edited_at, msg.deleted_at, msg.reply_to_seq, msg.reactions, msg.attachments)::chat.message
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
    case
      when c.kind = 'direct' then coalesce(p.display_name, chat_private.peer(c, m.user_id))
      when m.left_seq is null then c.title
      else m.left_title
    end,
    chat_private.peer(c, m.user_id),
    -- A former member sees the group as it was when they left (chat_private.leave_group).
    case when m.left_seq is null then c.members else m.left_members end,
    case when m.left_seq is null then c.owner else m.left_owner end,
    case when m.left_seq is null then c.admins else m.left_admins end,
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
    chat_private.activity_at(c, m),
    c.created_at,
    chat_private.inbox_cursor(chat_private.activity_at(c, m), c.conversation_id)
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
