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
