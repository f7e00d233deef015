-- Live signals (docs/realtime.md): typing, presence and read receipts, and who may see them.
--
-- Typing never touches the event log or its commit-order lock: chat.set_typing throttles in
-- chat_private.typing_throttle (unlogged: losing it in a crash only lets one extra typing through) and
-- sends one NOTIFY on its own channel, microchatter_typing. Presence is kept as leases: each server
-- process holds a row in presence_processes, renewed every second, and one lease per user with a stream
-- open on it; a user is online while a lease of a live process exists. Transitions are events in the
-- log (presence.changed), so they resume like every other event.

-- The privacy settings, on the user row: read together with it (require_user) at no extra cost.
alter table chat_private.users
  add column if not exists share_read_receipts boolean not null default true,
  add column if not exists share_presence boolean not null default true;

-- When the member reached read_seq (null: never read anything yet).
alter table chat_private.memberships add column if not exists read_at timestamptz;

create unlogged table if not exists chat_private.typing_throttle (
  conversation_id bigint not null,
  user_id text not null,
  forwarded_at timestamptz not null,
  primary key (conversation_id, user_id)
);

create unlogged table if not exists chat_private.presence_processes (
  process_id text primary key,
  renewed_at timestamptz not null default now(),
  expires_at timestamptz not null
);

create unlogged table if not exists chat_private.presence_leases (
  user_id text not null,
  process_id text not null references chat_private.presence_processes on delete cascade,
  primary key (user_id, process_id)
);
create index if not exists presence_leases_process_idx on chat_private.presence_leases (process_id);

-- The announced state: what get_presence answers and presence.changed said last.
create table if not exists chat_private.presence (
  user_id text primary key references chat_private.users on delete cascade,
  online boolean not null default false,
  last_seen_at timestamptz
);

-- Blocked in either direction.
create or replace function chat_private.blocked_between(a chat_private.users, b chat_private.users)
returns boolean
language sql
immutable
as $$
  select a.user_id = any(b.blocked) or b.user_id = any(a.blocked)
$$;

-- Who sees a member's conversation.read: the reader's own devices always; the other current members
-- only when the reader shares read receipts, and of them those who share theirs too (receipts are
-- mutual) and are not blocked either way.
create or replace function chat_private.receipt_audience(conversation_id bigint, reader text, current_member boolean)
returns text[]
language sql
stable
as $$
  select case when not current_member or not r.share_read_receipts then array[r.user_id] else
    array(
      select u.user_id from chat_private.conversations c
      join chat_private.users u on u.user_id = any(c.members)
      where c.conversation_id = receipt_audience.conversation_id
        and (u.user_id = r.user_id or (u.share_read_receipts and not chat_private.blocked_between(u, r)))
      order by u.user_id
    )
  end
  from chat_private.users r where r.user_id = reader
$$;

-- Who gets a user's typing in a conversation: the other current members not blocked either way.
create or replace function chat_private.typing_audience(c chat_private.conversations, typist chat_private.users)
returns text[]
language sql
stable
as $$
  select array(
    select u.user_id from chat_private.users u
    where u.user_id = any(c.members) and u.user_id <> typist.user_id and not chat_private.blocked_between(u, typist)
    order by u.user_id
  )
$$;

-- Who gets a user's presence.changed: the peers of their direct chats, when the user shares presence,
-- of them those who share theirs (presence is mutual) and are not blocked either way. Groups get no
-- presence events (docs/realtime.md): they ask get_presence for the members on screen.
create or replace function chat_private.presence_audience(subject chat_private.users)
returns text[]
language sql
stable
as $$
  select case when not subject.share_presence then '{}'::text[] else
    array(
      select p.user_id
      from chat_private.memberships m
      join chat_private.conversations c on c.conversation_id = m.conversation_id and c.kind = 'direct'
      join chat_private.users p on p.user_id = chat_private.peer(c, subject.user_id)
      where m.user_id = subject.user_id and p.share_presence and not chat_private.blocked_between(p, subject)
      order by p.user_id
    )
  end
$$;

-- Writes one presence.changed per changed user, all in one statement: the event lock is taken once and
-- held only for this insert and the commit (the caller is a single-statement call).
create or replace function chat_private.emit_presence(changed text[])
returns void
language plpgsql
volatile
as $$
declare
  v_rows jsonb;
begin
  select coalesce(jsonb_agg(jsonb_build_object(
           'recipients', to_jsonb(chat_private.presence_audience(u)),
           'payload', jsonb_build_object('user', p.user_id, 'online', p.online, 'last_seen_at', p.last_seen_at))
           order by p.user_id), '[]')
  into v_rows
  from chat_private.presence p join chat_private.users u on u.user_id = p.user_id
  where p.user_id = any(changed);
  if jsonb_array_length(v_rows) = 0 then
    return;
  end if;
  perform pg_advisory_xact_lock(1296253270, 1);
  insert into chat_private.events (position, type, recipients, payload)
  select nextval('chat_private.event_positions'), 'presence.changed',
         array(select jsonb_array_elements_text(r.value -> 'recipients')), r.value -> 'payload'
  from jsonb_array_elements(v_rows) with ordinality as r(value, n)
  where jsonb_array_length(r.value -> 'recipients') > 0
  order by r.n;
end
$$;

-- Locks the announced-presence rows of these users (creating missing ones), in a fixed order so that
-- processes syncing at the same time never deadlock. Every change of leases happens after this, so
-- a process deciding "no lease left: offline" cannot miss another process's new lease.
create or replace function chat_private.lock_presence(users text[])
returns void
language plpgsql
volatile
as $$
begin
  insert into chat_private.presence (user_id)
  select u.user_id from chat_private.users u where u.user_id = any(users)
  on conflict (user_id) do nothing;
  perform from chat_private.presence p where p.user_id = any(users) order by p.user_id for update;
end
$$;

-- Of these users, those now offline (no lease of a live process) but announced online: announce them
-- offline, last seen at `seen_at`. Returns them.
create or replace function chat_private.settle_offline(users text[], seen_at timestamptz[])
returns text[]
language sql
volatile
as $$
  with gone as (
    update chat_private.presence p set online = false, last_seen_at = s.seen_at
    from unnest(users, seen_at) as s(user_id, seen_at)
    where p.user_id = s.user_id and p.online and not exists (
      select from chat_private.presence_leases l
      join chat_private.presence_processes pp on pp.process_id = l.process_id
      where l.user_id = s.user_id and pp.expires_at > now()
    )
    returning p.user_id
  )
  select coalesce(array_agg(user_id), '{}') from gone
$$;
