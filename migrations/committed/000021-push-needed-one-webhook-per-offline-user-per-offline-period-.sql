--! Previous: sha1:802196052b16e8a7997ec2a310e6a9f478a5b9cc
--! Hash: sha1:edd39138ac210ceb08e6947ca08c187c9a299e89
--! Message: push.needed: one webhook per offline user per offline period, after MICROCHATTER_PUSH_DELAY, not for muted conversations or blocked senders

--! Included chat_private/push.sql
-- push.needed: one webhook per user per offline period when messages wait for them unread
-- (docs/webhooks.md). A message.created event for a member who is offline (no presence lease on a live
-- process), has not muted the conversation nor blocked the sender wakes a graphile-worker job per user
-- (job key push:<md5 of the id>, so one pending job per user however many messages arrive); the job,
-- chat_server.push_needed, waits out MICROCHATTER_PUSH_DELAY from the oldest such message, and pushes
-- unless they read it, came online or were pushed already in this offline period.

-- When a user was last pushed; the offline period ends when they read or come online after it.
create table if not exists chat_private.push_state (
  user_id text primary key references chat_private.users on delete cascade,
  pushed_at timestamptz not null
);

-- Whether the user has an event stream open on a live process.
create or replace function chat_private.online(user_id text)
returns boolean
language sql
stable
as $$
  select exists (
    select from chat_private.presence_leases l
    join chat_private.presence_processes p on p.process_id = l.process_id
    where l.user_id = online.user_id and p.expires_at > now()
  )
$$;

-- The end of the user's last offline period: when they last read something or went offline (now, if
-- they are online). Null when neither ever happened.
create or replace function chat_private.push_reset_at(user_id text)
returns timestamptz
language sql
stable
as $$
  select case when chat_private.online(push_reset_at.user_id) then now() else greatest(
    (select max(m.read_at) from chat_private.memberships m where m.user_id = push_reset_at.user_id),
    (select p.last_seen_at from chat_private.presence p where p.user_id = push_reset_at.user_id)
  ) end
$$;

-- Wakes the user's push job (a pending one keeps its time).
create or replace function chat_private.wake_push(user_id text, run_at timestamptz)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if to_regnamespace('graphile_worker') is null then
    return;
  end if;
  perform graphile_worker.add_job(
    'push_needed',
    json_build_object('user', user_id),
    run_at => run_at,
    max_attempts => 5,
    job_key => 'push:' || md5(user_id),
    job_key_mode => 'preserve_run_at'
  );
end
$$;

-- After a message.created event: wakes the push job of each offline recipient it concerns. Only when
-- some webhook takes push.needed, and not for a user pushed already in this offline period.
create or replace function chat_private.push_event()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_sender text := new.payload -> 'message' ->> 'sender';
  v_conversation_id bigint := (new.payload ->> 'conversation_id')::bigint;
  v_user text;
begin
  if not exists (select from chat_private.webhooks w where chat_private.webhook_wants(w.events, 'push.needed')) then
    return null;
  end if;
  for v_user in
    select r.user_id from unnest(new.recipients) r(user_id)
    join chat_private.users u on u.user_id = r.user_id
    join chat_private.memberships m on m.conversation_id = v_conversation_id and m.user_id = r.user_id
    left join chat_private.push_state ps on ps.user_id = r.user_id
    where r.user_id <> v_sender and not m.muted and not v_sender = any(u.blocked)
      and not chat_private.online(r.user_id)
      and (ps.pushed_at is null or ps.pushed_at < coalesce(chat_private.push_reset_at(r.user_id), '-infinity'))
  loop
    perform chat_private.wake_push(v_user, now());
  end loop;
  return null;
end
$$;

drop trigger if exists push_event on chat_private.events;
create trigger push_event after insert on chat_private.events
  for each row when (new.type = 'message.created') execute function chat_private.push_event();
--! EndIncluded chat_private/push.sql
--! Included chat_server/push_needed.sql
create or replace function chat_server.push_needed(user_id text, delay_seconds integer)
returns text
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_user chat_private.users;
  v_pushed timestamptz;
  v_since timestamptz;
  v_oldest timestamptz;
  v_conversations jsonb;
begin
  select * into v_user from chat_private.users u where u.user_id = push_needed.user_id;
  if not found then
    return 'gone';
  end if;
  if chat_private.online(v_user.user_id) then
    return 'online';
  end if;
  -- One push per offline period: it ends when they read or come online after the last push.
  select ps.pushed_at into v_pushed from chat_private.push_state ps where ps.user_id = v_user.user_id for update;
  v_since := chat_private.push_reset_at(v_user.user_id);
  if v_pushed is not null and v_pushed >= coalesce(v_since, '-infinity') then
    return 'already';
  end if;
  v_since := greatest(v_since, v_pushed);
  -- The oldest message waiting for them since then, in a conversation they did not mute.
  select min(msg.sent_at) into v_oldest
  from chat_private.memberships m
  join chat_private.messages msg on msg.conversation_id = m.conversation_id
    and msg.seq > greatest(m.read_seq, m.cleared_seq)
  where m.user_id = v_user.user_id and m.left_seq is null and not m.muted
    and msg.sender <> v_user.user_id and not msg.sender = any(v_user.blocked) and msg.deleted_at is null
    and (v_since is null or msg.sent_at > v_since);
  if v_oldest is null then
    return 'nothing'; -- read in time
  end if;
  if v_oldest > now() - make_interval(secs => delay_seconds) then
    perform chat_private.wake_push(v_user.user_id, v_oldest + make_interval(secs => delay_seconds));
    return 'later';
  end if;
  select coalesce(jsonb_agg(jsonb_build_object(
      'conversation_id', c.conversation_id,
      'unread', chat_private.unread(c, m),
      'last_message', (select to_jsonb(chat_private.message_row(msg)) from chat_private.messages msg
                       where msg.conversation_id = c.conversation_id and msg.seq = c.last_seq))
    order by c.last_activity_at desc, c.conversation_id desc), '[]')
  into v_conversations
  from chat_private.memberships m
  join chat_private.conversations c on c.conversation_id = m.conversation_id
  where m.user_id = v_user.user_id and m.left_seq is null and not m.muted
    and chat_private.unread(c, m) > 0;
  perform chat_private.enqueue_webhooks('push.needed', 'u:' || md5(v_user.user_id),
    jsonb_build_object('user', v_user.user_id,
      'unread', (select coalesce(sum((e ->> 'unread')::bigint), 0) from jsonb_array_elements(v_conversations) e),
      'conversations', v_conversations),
    now());
  insert into chat_private.push_state as ps (user_id, pushed_at) values (v_user.user_id, now())
  on conflict (user_id) do update set pushed_at = excluded.pushed_at;
  return 'pushed';
end
$$;
comment on function chat_server.push_needed(text, integer) is
  'For the push_needed job: sends push.needed for a user when a message has waited for them unread '
  'for delay_seconds in a conversation they did not mute, they are offline and were not pushed in this '
  'offline period (reading or coming online starts a new one). Returns pushed, later (queued again for '
  'when the oldest waiting message is old enough), already, online, nothing (read in time) or gone.';
--! EndIncluded chat_server/push_needed.sql
--! Included chat_admin/erase_user.sql
create or replace function chat_admin.erase_user("user" text, mode text default 'anonymize')
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_id text := chat_private.nfc("user");
  v_pseudonym text := 'erased_' || left(replace(gen_random_uuid()::text, '-', ''), 16);
  v_group chat_private.conversations;
  v_messages bigint;
  v_needle text;
begin
  if mode is null or mode not in ('anonymize', 'purge') then
    raise exception using errcode = 'MCARG', message = 'mode must be anonymize or purge';
  end if;
  perform chat_private.require_user(v_id);
  perform from chat_private.users u where u.user_id = v_id for update;
  v_needle := to_jsonb(v_id)::text;

  -- Their messages become tombstones under the pseudonym; seq stays, so nobody's history has gaps.
  delete from chat_private.message_edits e
  using chat_private.messages msg
  where e.message_id = msg.message_id and msg.sender = v_id;
  delete from chat_private.message_edits e where e.sender = v_id;
  delete from chat_private.attachments a
  where a.uploader = v_id
     or exists (select from chat_private.messages msg
                where msg.conversation_id = a.conversation_id and msg.seq = a.seq and msg.sender = v_id);
  update chat_private.messages msg
  set sender = v_pseudonym, body = '', reactions = '[]', attachments = '[]', search = null,
      deleted_at = coalesce(msg.deleted_at, now())
  where msg.sender = v_id;
  get diagnostics v_messages = row_count;

  if mode = 'purge' then
    -- Out of their groups as by leave_conversation; their reactions and reports go with them.
    for v_group in
      select c.* from chat_private.conversations c
      join chat_private.memberships m on m.conversation_id = c.conversation_id
      where m.user_id = v_id and m.left_seq is null and c.kind = 'group'
      order by c.conversation_id
      for update of c
    loop
      perform chat_private.leave_group(v_group, v_id);
    end loop;
    update chat_private.messages msg
    set reactions = coalesce((
      select jsonb_agg(jsonb_build_object('emoji', r ->> 'emoji',
          'count', jsonb_array_length((r -> 'users') - v_id), 'users', (r -> 'users') - v_id) order by i)
      from jsonb_array_elements(msg.reactions) with ordinality x(r, i)
      where jsonb_array_length((r -> 'users') - v_id) > 0), '[]')
    where msg.reactions @> jsonb_build_array(jsonb_build_object('users', jsonb_build_array(v_id)));
    delete from chat_private.reports r where r.reporter = v_id;
  else
    -- The pseudonym takes their place as a member, reactor and reporter: an account nobody can use.
    insert into chat_private.users (user_id, display_name, password_hash, blocked, share_read_receipts,
      share_presence, suspended_at)
    values (v_pseudonym, null, null, '{}', false, false, now());
    update chat_private.memberships m set user_id = v_pseudonym where m.user_id = v_id;
    update chat_private.messages msg
    set reactions = chat_private.erased_json(msg.reactions, v_id, v_pseudonym)
    where msg.reactions @> jsonb_build_array(jsonb_build_object('users', jsonb_build_array(v_id)));
    update chat_private.reports r set reporter = v_pseudonym where r.reporter = v_id;
  end if;
  update chat_private.reports r set sender = v_pseudonym where r.sender = v_id;

  update chat_private.conversations c
  set members = array_replace(c.members, v_id, v_pseudonym),
      admins = array_replace(c.admins, v_id, v_pseudonym),
      owner = case when c.owner = v_id then v_pseudonym else c.owner end,
      -- a direct chat accepts no new message, and a new user with the same id starts afresh
      direct_pair = case when c.direct_pair @> array[v_id] then null else c.direct_pair end
  where c.members @> array[v_id] or c.admins @> array[v_id] or c.owner = v_id or c.direct_pair @> array[v_id];
  update chat_private.memberships m
  set left_members = array_replace(m.left_members, v_id, v_pseudonym),
      left_admins = array_replace(m.left_admins, v_id, v_pseudonym),
      left_owner = case when m.left_owner = v_id then v_pseudonym else m.left_owner end
  where m.left_members @> array[v_id] or m.left_admins @> array[v_id] or m.left_owner = v_id;
  update chat_private.users u set blocked = array_replace(u.blocked, v_id, v_pseudonym)
  where u.blocked @> array[v_id];

  -- Copies of their messages and id outside the tables above: the event log and pending deliveries.
  -- The events of this erasure are written first (they are deferred to commit otherwise, where a
  -- conversation's event would still name its former members).
  set constraints all immediate;
  update chat_private.events e
  set recipients = array_replace(e.recipients, v_id, v_pseudonym),
      payload = chat_private.erased_json(e.payload, v_id, v_pseudonym)
  where e.recipients @> array[v_id] or strpos(e.payload::text, v_needle) > 0;
  update chat_private.webhook_deliveries d
  set payload = chat_private.erased_json(d.payload, v_id, v_pseudonym)
  where d.payload is not null and strpos(d.payload::text, v_needle) > 0;

  if to_regnamespace('graphile_worker') is not null then
    perform graphile_worker.remove_job('push:' || md5(v_id)); -- its payload names them
  end if;
  delete from chat_private.rate_limits r where r.key = v_id;
  delete from chat_private.typing_throttle t where t.user_id = v_id;
  delete from chat_private.presence_leases l where l.user_id = v_id;
  delete from chat_private.users u where u.user_id = v_id;
  return jsonb_build_object('user', v_id, 'mode', mode, 'pseudonym', v_pseudonym, 'messages', v_messages);
end
$$;
comment on function chat_admin.erase_user(text, text) is
  'Erases a user (GDPR). Every message they sent becomes a tombstone (empty body, deleted_at set, no '
  'reactions, attachments or edit history, seq kept) whose sender is a pseudonym, erased_<16 hex>, the '
  'same for all of that user''s traces; their attachments are deleted; the event log and pending webhook '
  'deliveries lose their bodies and id. anonymize (the default): the pseudonym takes their place '
  'everywhere (member of their conversations, reactions, reports they filed), as a suspended account '
  'nobody can sign in to. purge: their rows go entirely: they leave their groups, their reactions, '
  'reports, settings and memberships are deleted; tombstones and member lists of direct chats keep the '
  'pseudonym. Direct chats stay with the other user but accept no new message. Returns {user, mode, '
  'pseudonym, messages}. Errors: MCARG, MCUNU.';
--! EndIncluded chat_admin/erase_user.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
