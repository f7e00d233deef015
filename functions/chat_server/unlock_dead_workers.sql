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
