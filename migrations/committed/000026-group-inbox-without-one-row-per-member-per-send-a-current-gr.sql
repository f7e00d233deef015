--! Previous: sha1:d82dcd8d651295926d754075bdcc6aa93f68e007
--! Hash: sha1:6787639445fe0a76d516ea955e5ca29b9f4890ab
--! Message: Group inbox without one row per member per send: a current group member's activity and reappearance after deleting are read from the conversation row

-- A group send writes O(1) rows: the group's activity is read from the conversation row, not copied
-- onto every member's membership row (chat_private.activity_at, chat_private.hidden).
alter table chat_private.memberships add column if not exists follows_group boolean not null default false;
comment on column chat_private.memberships.follows_group is
  'A current member of a group: their inbox activity is the conversation''s (chat_private.activity_at), '
  'and last_activity_at here is only when they joined. Otherwise (direct chats, groups left) it is '
  'last_activity_at here, which the inbox index orders.';
update chat_private.memberships m set follows_group = true
from chat_private.conversations c
where c.conversation_id = m.conversation_id and c.kind = 'group' and m.left_seq is null and not m.follows_group;

-- The inbox index holds only the rows whose activity is their own; a user's groups are found by the
-- second index and sorted on their conversation rows. The second also serves every per-user lookup.
drop index if exists chat_private.memberships_inbox_idx;
create index if not exists memberships_own_activity_idx on chat_private.memberships
  (user_id, last_activity_at desc, conversation_id desc) where not follows_group;
create index if not exists memberships_user_idx on chat_private.memberships (user_id, follows_group);

--! Included chat_private/memberships.sql
-- The conversation row, locked for update when the caller is going to change it (senders queue
-- here, which is what keeps seq gap-free and in send order). MCNCV when there is none.
create or replace function chat_private.conversation(conversation_id bigint, for_update boolean)
returns chat_private.conversations
language plpgsql
volatile
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations;
begin
  if for_update then
    select * into v_conversation from chat_private.conversations c
    where c.conversation_id = conversation.conversation_id for update;
  else
    select * into v_conversation from chat_private.conversations c
    where c.conversation_id = conversation.conversation_id;
  end if;
  if not found then
    raise exception using errcode = 'MCNCV',
      message = format('conversation %s does not exist', conversation.conversation_id);
  end if;
  return v_conversation;
end
$$;

-- The lock a send queues on before it locks the conversation row (chat.send_message, and
-- chat_server.send_messages for each conversation of a batch, in ascending order, before applying
-- any). Senders wait here, on a lock that their predecessor's top-level transaction takes once and
-- drops at its commit, not on the row: a batch updates the row from one subtransaction per send, and a
-- waiter on the row would be woken at each of them to find it changed again (and the row would carry
-- a new multixact of the batch's lock and each update). With ten batches queued on one conversation,
-- that churn cost eight to ten times the batches' own work. The key is the conversation_id itself in
-- the one-bigint advisory lock space (the event lock uses the two-integer one).
create or replace function chat_private.lock_conversation_for_sending(conversation_id bigint)
returns void
language sql
volatile
as $$
  select pg_advisory_xact_lock(conversation_id)
$$;

-- The actor's membership. MCNMB when the actor never belonged to the conversation, or, with
-- must_be_current, has left it (former members may still read what they saw, not act).
create or replace function chat_private.membership(actor text, conversation_id bigint, must_be_current boolean)
returns chat_private.memberships
language plpgsql
stable
as $$
#variable_conflict use_column
declare
  v_membership chat_private.memberships;
begin
  select * into v_membership from chat_private.memberships m
  where m.conversation_id = membership.conversation_id and m.user_id = membership.actor;
  if not found or (must_be_current and v_membership.left_seq is not null) then
    raise exception using errcode = 'MCNMB',
      message = format('%s is not a member of conversation %s', actor, membership.conversation_id);
  end if;
  return v_membership;
end
$$;

-- The last seq this member may see: all of them while a member, none after leaving.
create or replace function chat_private.visible_seq(c chat_private.conversations, m chat_private.memberships)
returns bigint
language sql
immutable
as $$
  select coalesce(m.left_seq, c.last_seq)
$$;

-- Unread is derived, never counted, so it cannot drift: every visible message after the read
-- position is from someone else, because sending moves the sender's read position to their message.
create or replace function chat_private.unread(c chat_private.conversations, m chat_private.memberships)
returns bigint
language sql
immutable
as $$
  select greatest(0, coalesce(m.left_seq, c.last_seq) - greatest(m.read_seq, m.cleared_seq))
$$;

-- The other member of a direct chat (null for groups).
create or replace function chat_private.peer(c chat_private.conversations, actor text)
returns text
language sql
immutable
as $$
  select case when c.kind = 'direct' then
    case when c.members[1] = actor then c.members[2] else c.members[1] end
  end
$$;

-- Whether the member deleted the conversation and nothing they may see arrived since. A group send
-- does not touch its members' rows (one row per member per send would make a send O(members)), so
-- `hidden` says only that they deleted it, at cleared_seq: any later message brings it back.
create or replace function chat_private.hidden(c chat_private.conversations, m chat_private.memberships)
returns boolean
language sql
immutable
as $$
  select m.hidden and coalesce(m.left_seq, c.last_seq) <= m.cleared_seq
$$;

-- When the conversation last changed for this member, which orders their inbox. A current group
-- member's is the group's last message (on the conversation row, written once per send), or their
-- own joining if later; anyone else's is on their membership row: a direct send writes both members'
-- rows, and leaving a group freezes the group's time there (chat_private.leave_group).
create or replace function chat_private.activity_at(c chat_private.conversations, m chat_private.memberships)
returns timestamptz
language sql
immutable
as $$
  select case when m.follows_group then greatest(m.last_activity_at, c.last_activity_at) else m.last_activity_at end
$$;

-- Whether a conversation shows in the member's inbox: not deleted by them (until a newer message),
-- and not a direct chat with someone they blocked.
create or replace function chat_private.in_inbox(c chat_private.conversations, m chat_private.memberships, blocked text[])
returns boolean
language sql
immutable
as $$
  select not chat_private.hidden(c, m) and (c.kind <> 'direct' or not chat_private.peer(c, m.user_id) = any(blocked))
$$;
--! EndIncluded chat_private/memberships.sql
--! Included chat_private/conversation_row.sql
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
  actor := chat_private.nfc(actor);
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

  -- The page is chosen first, then only its rows are dressed up. It is the newest of two lists: the
  -- direct chats and groups left, each page on the inbox index of membership rows; and the groups the
  -- actor is in, whose activity is on the conversation row (chat_private.activity_at), so all of them
  -- are read and sorted: an inbox page costs a page of the first, and one row per current group.
  return query
  select r.*
  from (
    select u.c, u.m, u.activity_at
    from (
      (
        select c, m, m.last_activity_at as activity_at
        from chat_private.memberships m
        join chat_private.conversations c on c.conversation_id = m.conversation_id
        where m.user_id = actor and not m.follows_group
          and (m.last_activity_at, m.conversation_id) < (v_before_at, v_before_id)
          and chat_private.in_inbox(c, m, v_blocked)
        order by m.last_activity_at desc, m.conversation_id desc
        limit "limit"
      )
      union all
      (
        select g.c, g.m, g.activity_at
        from (
          select c, m, chat_private.activity_at(c, m) as activity_at
          from chat_private.memberships m
          join chat_private.conversations c on c.conversation_id = m.conversation_id
          where m.user_id = actor and m.follows_group and chat_private.in_inbox(c, m, v_blocked)
        ) g
        where (g.activity_at, (g.m).conversation_id) < (v_before_at, v_before_id)
        order by g.activity_at desc, (g.m).conversation_id desc
        limit "limit"
      )
    ) u
    order by u.activity_at desc, (u.m).conversation_id desc
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

  -- Senders queue on the conversation's send lock, then take its row: the lock order of
  -- chat_server.send_messages (conversations, then rate-limit buckets), so batches and single sends
  -- never deadlock.
  perform chat_private.lock_conversation_for_sending(v_conversation_id);
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

  -- The sender has read their own message. A group's members see the new activity on the conversation
  -- row (chat_private.activity_at and chat_private.hidden): one row per send, not one per member. A
  -- direct chat's two members keep it on their own rows, where the inbox index finds it, and a
  -- deleted direct chat comes back.
  if v_conversation.kind = 'direct' then
    update chat_private.memberships m
    set last_activity_at = v_conversation.last_activity_at,
        hidden = false,
        read_seq = case when m.user_id = actor then v_message.seq else m.read_seq end,
        read_at = case when m.user_id = actor then v_message.sent_at else m.read_at end
    where m.conversation_id = v_conversation_id and m.left_seq is null;
  else
    update chat_private.memberships m
    set read_seq = v_message.seq, read_at = v_message.sent_at
    where m.conversation_id = v_conversation_id and m.user_id = actor;
  end if;

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
--! Included chat_private/group_rules.sql
-- Group rules: the owner (creator) and the admins the owner names manage the group; any member may
-- send and leave. See docs/sql-api.md.

-- A group title or display name: at most 200 characters, no control characters; required when
-- `required`. Returns it trimmed.
create or replace function chat_private.checked_label(value text, what text, required boolean)
returns text
language plpgsql
immutable
as $$
begin
  value := btrim(value);
  if value = '' then
    value := null;
  end if;
  if value is null and required then
    raise exception using errcode = 'MCARG', message = format('%s is required', what);
  end if;
  if length(value) > 200 or value ~ '[[:cntrl:]]' then
    raise exception using errcode = 'MCARG',
      message = format('%s must be at most 200 characters without control characters', what);
  end if;
  return value;
end
$$;

create or replace function chat_private.require_group_admin(c chat_private.conversations, actor text)
returns void
language plpgsql
immutable
as $$
begin
  if c.kind <> 'group' then
    raise exception using errcode = 'MCKND', message = 'this is a direct conversation, not a group';
  end if;
  if not actor = any(c.admins) then
    raise exception using errcode = 'MCFRB', message = 'only the group''s owner and admins may do this';
  end if;
end
$$;

-- Adds users to a group (new, or back after leaving). They see messages from now on, not the
-- history before they joined. Users already in the group are skipped. Returns the updated row.
create or replace function chat_private.join_group(c chat_private.conversations, actor text, users text[])
returns chat_private.conversations
language plpgsql
volatile
as $$
declare
  v_new text[];
  v_unknown text;
  v_blocker text;
  v_max integer := chat_private.setting('max_group_members', 1000);
begin
  if users is null then
    raise exception using errcode = 'MCARG', message = 'members must be a list of user ids';
  end if;
  if cardinality(users) > v_max then
    raise exception using errcode = 'MCFUL', message = format('a group has at most %s members', v_max);
  end if;
  select coalesce(array_agg(x.u order by x.first), '{}') into v_new
  from (select u, min(i) as first from unnest(users) with ordinality as t(u, i) where u is not null group by u) x
  where not x.u = any(c.members);

  select u into v_unknown from unnest(v_new) u
  where not exists (select from chat_private.users usr where usr.user_id = u) limit 1;
  if found then
    raise exception using errcode = 'MCUNU', message = format('unknown user %s', v_unknown);
  end if;
  select usr.user_id into v_blocker from chat_private.users usr
  where usr.user_id = any(v_new) and actor = any(usr.blocked) limit 1;
  if found then
    raise exception using errcode = 'MCBLK', message = format('%s does not accept messages from you', v_blocker);
  end if;
  if cardinality(c.members) + cardinality(v_new) > v_max then
    raise exception using errcode = 'MCFUL', message = format('a group has at most %s members', v_max);
  end if;

  insert into chat_private.memberships as m (conversation_id, user_id, read_seq, cleared_seq, follows_group)
  select c.conversation_id, u, c.last_seq, c.last_seq, true from unnest(v_new) u
  on conflict (conversation_id, user_id) do update
    set read_seq = excluded.read_seq, cleared_seq = excluded.cleared_seq, left_seq = null,
        left_title = null, left_members = null, left_owner = null, left_admins = null,
        hidden = false, last_activity_at = now(), follows_group = true;

  update chat_private.conversations cv set members = cv.members || v_new
  where cv.conversation_id = c.conversation_id
  returning * into c;
  return c;
end
$$;

-- Takes a user out of a group: they keep what they saw until now and get nothing later. When the
-- owner goes, the longest-standing admin, else the longest-standing member, becomes owner.
create or replace function chat_private.leave_group(c chat_private.conversations, leaver text)
returns chat_private.conversations
language plpgsql
volatile
as $$
declare
  v_members text[] := array_remove(c.members, leaver);
  v_admins text[] := array_remove(c.admins, leaver);
  v_owner text := c.owner;
begin
  if c.kind <> 'group' then
    raise exception using errcode = 'MCKND', message = 'a direct conversation cannot be left; delete it instead';
  end if;
  if v_owner = leaver then
    v_owner := coalesce(v_admins[1], v_members[1]);
    if v_owner is not null and not v_owner = any(v_admins) then
      v_admins := array_prepend(v_owner, v_admins);
    end if;
  end if;
  update chat_private.conversations cv set members = v_members, admins = v_admins, owner = v_owner
  where cv.conversation_id = c.conversation_id
  returning * into c;

  -- The leaver keeps seeing the group as it stood the moment they were out of it: later renames and
  -- members are none of their business (chat_private.conversation_rows shows this snapshot), and its
  -- place in their inbox stays where its last message put it (chat_private.activity_at).
  update chat_private.memberships m
  set left_seq = c.last_seq, left_title = c.title, left_members = c.members, left_owner = c.owner,
      left_admins = c.admins, last_activity_at = chat_private.activity_at(c, m), follows_group = false
  where m.conversation_id = c.conversation_id and m.user_id = leaver and m.left_seq is null;
  return c;
end
$$;
--! EndIncluded chat_private/group_rules.sql
--! Included chat_admin/export_user.sql
create or replace function chat_admin.export_user("user" text)
returns jsonb
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user chat_private.users := chat_private.require_user(chat_private.nfc("user"));
  v_id text := v_user.user_id;
begin
  return jsonb_build_object(
    'exported_at', now(),
    'profile', jsonb_build_object('user_id', v_id, 'display_name', v_user.display_name,
      'created_at', v_user.created_at, 'updated_at', v_user.updated_at,
      'suspended_at', v_user.suspended_at, 'suspended_until', v_user.suspended_until),
    'settings', jsonb_build_object('share_read_receipts', v_user.share_read_receipts,
      'share_presence', v_user.share_presence),
    'blocked', to_jsonb(v_user.blocked),
    'memberships', coalesce((
      select jsonb_agg(jsonb_build_object('conversation_id', m.conversation_id, 'kind', c.kind,
          'title', coalesce(m.left_title, c.title), 'read_seq', m.read_seq, 'read_at', m.read_at,
          'muted', m.muted, 'hidden', chat_private.hidden(c, m), 'left', m.left_seq is not null, 'left_seq', m.left_seq)
        order by m.conversation_id)
      from chat_private.memberships m
      join chat_private.conversations c on c.conversation_id = m.conversation_id
      where m.user_id = v_id), '[]'),
    'messages', coalesce((
      select jsonb_agg(jsonb_build_object('conversation_id', msg.conversation_id, 'seq', msg.seq,
          'body', msg.body, 'sent_at', msg.sent_at, 'edited_at', msg.edited_at, 'deleted_at', msg.deleted_at,
          'reply_to_seq', msg.reply_to_seq, 'client_id', msg.client_id, 'reactions', msg.reactions,
          'attachments', msg.attachments,
          'edits', coalesce((
            select jsonb_agg(jsonb_build_object('body', e.body, 'written_at', e.written_at,
              'replaced_at', e.replaced_at) order by e.replaced_at, e.edit_id)
            from chat_private.message_edits e where e.message_id = msg.message_id), '[]'))
        order by msg.conversation_id, msg.seq)
      from chat_private.messages msg where msg.sender = v_id), '[]'),
    'reactions', coalesce((
      select jsonb_agg(jsonb_build_object('conversation_id', msg.conversation_id, 'seq', msg.seq,
          'emoji', r ->> 'emoji') order by msg.conversation_id, msg.seq, r ->> 'emoji')
      from chat_private.memberships m
      join chat_private.messages msg on msg.conversation_id = m.conversation_id
      cross join lateral jsonb_array_elements(msg.reactions) r
      where m.user_id = v_id and msg.reactions <> '[]' and r -> 'users' ? v_id), '[]'),
    'attachments', coalesce((
      select jsonb_agg(jsonb_build_object('attachment_id', a.attachment_id, 'name', a.name,
          'content_type', a.content_type, 'size', a.size, 'conversation_id', a.conversation_id,
          'seq', a.seq, 'created_at', a.created_at) order by a.created_at, a.attachment_id)
      from chat_private.attachments a where a.uploader = v_id), '[]'),
    'reports', coalesce((
      select jsonb_agg(jsonb_build_object('report_id', r.report_id, 'conversation_id', r.conversation_id,
          'seq', r.seq, 'reason', r.reason, 'status', r.status, 'created_at', r.created_at)
        order by r.report_id)
      from chat_private.reports r where r.reporter = v_id), '[]')
  );
end
$$;
comment on function chat_admin.export_user(text) is
  'Everything Microchatter keeps about a user, as one JSON document (GDPR access and portability): '
  'profile, settings, blocked list, memberships, every message they sent with its edit history, '
  'reactions and attachment metadata, the reactions they made and the reports they filed. Attachment '
  'contents are fetched separately (GET /attachments/<id>). Errors: MCUNU.';
--! EndIncluded chat_admin/export_user.sql
--! Included chat_private/events.sql
-- Realtime events: every change a user should see live is written to chat_private.events in the
-- same transaction as the change, by the triggers below, so psql and HTTP produce the same events.
-- NOTIFY only wakes the relays (docs/realtime.md).
--
-- The triggers are deferred to commit, and the events of a transaction are written under one
-- transaction lock that every event-writing transaction takes: positions are therefore handed out in
-- commit order (a sequence alone hands them out in start order, and a reader could skip a late commit
-- for ever). Within a conversation, commit order is send order, so events follow seq.
--
-- Every event-writing transaction waits for that lock, and its holder keeps it through its commit
-- flush (which NOTIFY serialises across the cluster anyway, DESIGN.md), so it is taken as late as
-- possible: the deferred triggers first only compute each event (recipients, payload) and stage it in
-- chat_private.pending_events; staging queues one more deferred trigger, which PostgreSQL fires after
-- every trigger queued before it, and that one takes the lock and moves the staged events into the
-- log with their positions, in staging order, in one statement. A batch of sends thus builds all its
-- payloads before the lock, not one after the other under it. An event emitted after that (by a
-- trigger the move itself queued) goes straight into the log: the lock is held by then.

-- Deferred triggers run at commit as whoever commits (the application role, not the API functions'
-- owner), so these functions are security definer like the API.

-- Events computed but not yet in the log, for the rest of their transaction only (rows of committed
-- or rolled-back transactions never stay: the move deletes them, a rollback discards them). Unlogged:
-- nothing of it outlives a transaction, so nothing is worth a WAL write.
create unlogged table if not exists chat_private.pending_events (
  xact xid8 not null default pg_current_xact_id(),
  n bigint generated always as identity,
  type text not null,
  recipients text[] not null,
  payload jsonb not null,
  primary key (xact, n)
);

-- The transaction that holds the event lock and has moved its staged events: a transaction-local
-- setting, so a rolled-back subtransaction (a refused send of a batch) takes it back with it.
create or replace function chat_private.holds_event_lock()
returns boolean
language sql
stable
as $$
  select current_setting('microchatter.event_lock_xact', true) = pg_current_xact_id()::text
$$;

-- Writes one event, unless nobody is to receive it: staged until the end of the transaction, or into
-- the log when the transaction holds the lock already.
create or replace function chat_private.emit(type text, recipients text[], payload jsonb)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if cardinality(recipients) = 0 then
    return;
  end if;
  if chat_private.holds_event_lock() then
    insert into chat_private.events (position, type, recipients, payload)
    values (nextval('chat_private.event_positions'), type, recipients, payload);
  else
    insert into chat_private.pending_events (type, recipients, payload) values (type, recipients, payload);
  end if;
end
$$;

-- Queued once per staged event, so it fires after every trigger that was queued before the first
-- staged event (PostgreSQL fires deferred triggers in the order they were queued, and those queued
-- while firing after all of them): the first call takes the lock and moves all of the transaction's
-- staged events; the later calls find it held and do nothing.
create or replace function chat_private.flush_events()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if chat_private.holds_event_lock() then
    return null;
  end if;
  -- 'MCEV' as a number: the lock's name among the database's advisory locks.
  perform pg_advisory_xact_lock(1296253270, 1);
  perform set_config('microchatter.event_lock_xact', pg_current_xact_id()::text, true);
  with moved as (
    delete from chat_private.pending_events p where p.xact = pg_current_xact_id()
    returning p.n, p.type, p.recipients, p.payload
  )
  insert into chat_private.events (position, type, recipients, payload)
  select nextval('chat_private.event_positions'), m.type, m.recipients, m.payload
  from (select * from moved order by moved.n) m;
  return null;
end
$$;

-- The payload names the transaction, and PostgreSQL folds identical notifications of one transaction
-- into one: one NOTIFY per transaction however many events it wrote (DESIGN.md: notify as little as
-- possible). Relays read the table, not the payload.
create or replace function chat_private.notify_events()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform pg_notify('microchatter_events', pg_current_xact_id()::text);
  return null;
end
$$;

create or replace function chat_private.message_event()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform chat_private.emit(
    'message.created',
    (select c.members from chat_private.conversations c where c.conversation_id = new.conversation_id),
    jsonb_build_object('conversation_id', new.conversation_id, 'message', to_jsonb(chat_private.message_row(new)))
  );
  return null;
end
$$;

-- A message changed after it was sent: edited, reacted to, deleted. Its current members hear of it, but
-- not those who cannot see it (it is from before they joined or deleted the chat).
create or replace function chat_private.message_changed_event()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform chat_private.emit(
    case when new.deleted_at is not null and old.deleted_at is null then 'message.deleted' else 'message.updated' end,
    array(
      select m.user_id from chat_private.memberships m
      where m.conversation_id = new.conversation_id and m.left_seq is null and m.cleared_seq < new.seq
      order by m.user_id
    ),
    jsonb_build_object('conversation_id', new.conversation_id, 'message', to_jsonb(chat_private.message_row(new)))
  );
  return null;
end
$$;

-- A member's own state changed: deleted the chat (tells their devices), or read it (tells their devices
-- and the other members who may see receipts: chat_private.receipt_audience, computed before emit
-- takes the event lock). Sending moves the sender's read position to their own message:
-- message.created already says so.
create or replace function chat_private.membership_event()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  -- Deleted: hidden now, or deleted again (cleared further) after newer messages brought it back.
  if new.hidden and (not old.hidden or new.cleared_seq > old.cleared_seq) then
    perform chat_private.emit('conversation.deleted', array[new.user_id],
      jsonb_build_object('conversation_id', new.conversation_id));
  elsif new.read_seq > old.read_seq and not exists (
    select from chat_private.messages msg
    where msg.conversation_id = new.conversation_id and msg.seq = new.read_seq and msg.sender = new.user_id
  ) then
    perform chat_private.emit(
      'conversation.read',
      chat_private.receipt_audience(new.conversation_id, new.user_id, new.left_seq is null),
      jsonb_build_object('conversation_id', new.conversation_id, 'user', new.user_id, 'read_seq', new.read_seq,
        'read_at', new.read_at)
    );
  end if;
  return null;
end
$$;

-- A conversation appeared (first message of a direct chat, a group's first members) or its members,
-- title or roles changed. Removed members hear of it too, so their devices can update.
create or replace function chat_private.conversation_event()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_old_members text[] := case when tg_op = 'UPDATE' then old.members else '{}' end;
begin
  perform chat_private.emit(
    case when cardinality(v_old_members) = 0 then 'conversation.created' else 'conversation.updated' end,
    new.members || array(select u from unnest(v_old_members) u where not u = any(new.members)),
    jsonb_build_object('conversation_id', new.conversation_id, 'kind', new.kind, 'title', new.title,
      'members', new.members, 'owner', new.owner, 'admins', new.admins)
  );
  return null;
end
$$;

drop trigger if exists flush_events on chat_private.pending_events;
create constraint trigger flush_events after insert on chat_private.pending_events
  deferrable initially deferred
  for each row execute function chat_private.flush_events();

drop trigger if exists notify_events on chat_private.events;
create trigger notify_events after insert on chat_private.events
  for each statement execute function chat_private.notify_events();

-- Constraint triggers, deferred: they run at commit (see the top of this file). Do not make them
-- immediate with SET CONSTRAINTS: the event lock would then be held for the rest of the transaction.
drop trigger if exists message_event on chat_private.messages;
create constraint trigger message_event after insert on chat_private.messages
  deferrable initially deferred
  for each row execute function chat_private.message_event();

-- A transaction that changes one message several times writes one event per change, each with the
-- message as that change left it.
drop trigger if exists message_changed_event on chat_private.messages;
create constraint trigger message_changed_event after update on chat_private.messages
  deferrable initially deferred
  for each row when (
    new.body is distinct from old.body or new.reactions is distinct from old.reactions
    or new.deleted_at is distinct from old.deleted_at or new.attachments is distinct from old.attachments
  )
  execute function chat_private.message_changed_event();

drop trigger if exists membership_event on chat_private.memberships;
create constraint trigger membership_event after update on chat_private.memberships
  deferrable initially deferred
  for each row when (
    new.hidden is distinct from old.hidden or new.cleared_seq is distinct from old.cleared_seq
    or new.read_seq is distinct from old.read_seq
  )
  execute function chat_private.membership_event();

drop trigger if exists conversation_created on chat_private.conversations;
create constraint trigger conversation_created after insert on chat_private.conversations
  deferrable initially deferred
  for each row execute function chat_private.conversation_event();

drop trigger if exists conversation_updated on chat_private.conversations;
create constraint trigger conversation_updated after update on chat_private.conversations
  deferrable initially deferred
  for each row when (
    new.members is distinct from old.members or new.title is distinct from old.title
    or new.owner is distinct from old.owner or new.admins is distinct from old.admins
  )
  execute function chat_private.conversation_event();
--! EndIncluded chat_private/events.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
