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
