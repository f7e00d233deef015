create or replace function chat_server.presence_sync(
  process_id text,
  came text[],
  went text[] default '{}',
  went_at timestamptz[] default '{}'
)
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_online text[];
  v_offline text[];
begin
  came := chat_private.nfc(came);
  went := chat_private.nfc(went);
  perform chat_private.lock_presence(came || went);

  insert into chat_private.presence_leases (user_id, process_id)
  select u.user_id, presence_sync.process_id from chat_private.users u where u.user_id = any(came)
  on conflict do nothing;
  delete from chat_private.presence_leases l
  where l.process_id = presence_sync.process_id and l.user_id = any(went);

  with now_online as (
    update chat_private.presence p set online = true
    where p.user_id = any(came) and not p.online
    returning p.user_id
  )
  select coalesce(array_agg(user_id), '{}') into v_online from now_online;
  v_offline := chat_private.settle_offline(went, went_at);

  perform chat_private.emit_presence(v_online || v_offline);
  return cardinality(v_online) + cardinality(v_offline);
end
$$;
comment on function chat_server.presence_sync(text, text[], text[], timestamptz[]) is
  'For the server: users whose first stream opened on this process (came) and whose last stream closed '
  'on it a few seconds ago (went, with when: went_at). Takes or gives back their leases and announces '
  'presence.changed to those who see it, only for real transitions: online when nobody held a lease, '
  'offline when no live process holds one. Returns how many changed.';

create or replace function chat_server.presence_heartbeat(process_id text, lease_ms integer)
returns boolean
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_new boolean;
  v_users text[];
  v_seen timestamptz[];
  v_offline text[];
begin
  insert into chat_private.presence_processes as p (process_id, renewed_at, expires_at)
  values (presence_heartbeat.process_id, now(), now() + make_interval(secs => lease_ms / 1000.0))
  on conflict (process_id) do update set renewed_at = excluded.renewed_at, expires_at = excluded.expires_at
  returning (xmax = 0) into v_new;

  -- Processes that stopped renewing (killed, cut off, stopped): their users go offline unless they
  -- have a stream elsewhere.
  select array_agg(l.user_id order by l.user_id), array_agg(pp.renewed_at order by l.user_id)
  into v_users, v_seen
  from chat_private.presence_processes pp
  join chat_private.presence_leases l on l.process_id = pp.process_id
  where pp.expires_at <= now();
  if v_users is null then
    delete from chat_private.presence_processes pp where pp.expires_at <= now();
    return v_new;
  end if;
  perform chat_private.lock_presence(v_users);
  delete from chat_private.presence_processes pp where pp.expires_at <= now();
  v_offline := chat_private.settle_offline(v_users, v_seen);
  perform chat_private.emit_presence(v_offline);
  return v_new;
end
$$;
comment on function chat_server.presence_heartbeat(text, integer) is
  'For the server: renews this process''s presence lease for lease_ms, and expires the leases of '
  'processes that stopped renewing theirs (announcing their users offline unless they are online '
  'elsewhere). True when the process was not registered (new, or expired meanwhile): it must then '
  'sync all its users again.';

create or replace function chat_server.presence_release(process_id text, grace_ms integer)
returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  update chat_private.presence_processes p
  set expires_at = least(p.expires_at, now() + make_interval(secs => grace_ms / 1000.0))
  where p.process_id = presence_release.process_id
$$;
comment on function chat_server.presence_release(text, integer) is
  'For the server, at shutdown: its leases end after grace_ms, enough for its clients to reconnect to '
  'another process without being announced offline; any surviving process then expires them.';
