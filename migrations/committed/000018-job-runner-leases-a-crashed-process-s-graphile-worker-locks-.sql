--! Previous: sha1:54505a8fc81c7278abc97878e849165ba1ebd21f
--! Hash: sha1:0fe0b1ae126147944cddea33b431eaf9e95d63e6
--! Message: Job runner leases: a crashed process's graphile-worker locks are freed after one lease, not 4 hours

--! Included chat_private/worker_leases.sql
-- Leases of the job runners (graphile-worker pools) of the server processes, renewed every third of
-- MICROCHATTER_WORKER_LEASE_SECONDS (server/jobs/worker.ts). A pool whose lease ran out is dead, and
-- chat_server.unlock_dead_workers frees the jobs and queues it left locked, which graphile-worker itself
-- would only free after 4 hours.
create table if not exists chat_private.worker_leases (
  worker_id text primary key,
  expires_at timestamptz not null
);
--! EndIncluded chat_private/worker_leases.sql
--! Included chat_server/renew_worker_lease.sql
create or replace function chat_server.renew_worker_lease(worker_id text, lease_seconds integer)
returns void
language sql
volatile
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
  insert into chat_private.worker_leases as l (worker_id, expires_at)
  values (worker_id, now() + make_interval(secs => lease_seconds))
  on conflict on constraint worker_leases_pkey do update set expires_at = excluded.expires_at
$$;
comment on function chat_server.renew_worker_lease(text, integer) is
  'For the server: the job runner pool worker_id (graphile-worker''s locked_by) is alive for '
  'lease_seconds more.';
--! EndIncluded chat_server/renew_worker_lease.sql
--! Included chat_server/unlock_dead_workers.sql
create or replace function chat_server.unlock_dead_workers(lease_seconds integer)
returns integer
language plpgsql
volatile
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_dead text[];
begin
  if to_regnamespace('graphile_worker') is null then
    return 0;
  end if;
  -- A lock older than a lease whose owner holds no live lease: its process is gone (a runner of a
  -- release without leases counts as gone too, once its lock is that old).
  select coalesce(array_agg(distinct j.locked_by), '{}') into v_dead
  from graphile_worker.jobs j
  where j.locked_by is not null
    and j.locked_at < now() - make_interval(secs => lease_seconds)
    and not exists (
      select from chat_private.worker_leases l where l.worker_id = j.locked_by and l.expires_at > now()
    );
  if cardinality(v_dead) > 0 then
    perform graphile_worker.force_unlock_workers(v_dead);
  end if;
  delete from chat_private.worker_leases l where l.expires_at < now() - make_interval(secs => lease_seconds);
  return cardinality(v_dead);
end
$$;
comment on function chat_server.unlock_dead_workers(integer) is
  'For the server: unlocks the graphile-worker jobs (and their queues) locked by runners whose lease '
  'expired, so a crashed process holds back its webhook streams for about one lease, not 4 hours. '
  'Returns how many dead runners were unlocked.';
--! EndIncluded chat_server/unlock_dead_workers.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
