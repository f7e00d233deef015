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
