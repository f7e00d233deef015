-- Leases of the job runners (graphile-worker pools) of the server processes, renewed every third of
-- MICROCHATTER_WORKER_LEASE_SECONDS (server/jobs/worker.ts). A pool whose lease ran out is dead, and
-- chat_server.unlock_dead_workers frees the jobs and queues it left locked, which graphile-worker itself
-- would only free after 4 hours.
create table if not exists chat_private.worker_leases (
  worker_id text primary key,
  expires_at timestamptz not null
);
