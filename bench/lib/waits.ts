/**
 * What the busy Postgres backends are doing during a timed window: pg_stat_activity sampled every
 * few milliseconds, counted by wait event ("CPU" when active without one). It tells lock queues
 * (Lock:transactionid, Lock:object for NOTIFY's queue lock) from CPU work and client round trips
 * (Client:ClientRead while in a transaction), which is what explains a collapse at high concurrency.
 */
import type postgres from 'postgres';

export interface WaitSampler {
  start(): void;
  /** Stops sampling; the share of samples (0..1) per wait event among active backends. */
  stop(): Promise<Record<string, number>>;
}

export function waitSampler(sql: postgres.Sql, intervalMs = 50): WaitSampler {
  let counts = new Map<string, number>();
  let running = false;
  let loop: Promise<void> = Promise.resolve();
  const sample = async () => {
    const rows = await sql<{ event: string; n: number }[]>`
      select coalesce(wait_event_type || ':' || wait_event, 'CPU') as event, count(*)::int as n
      from pg_stat_activity
      where backend_type = 'client backend' and pid <> pg_backend_pid()
        and datname = current_database() and state in ('active', 'idle in transaction')
      group by 1`;
    for (const { event, n } of rows) counts.set(event, (counts.get(event) ?? 0) + n);
  };
  return {
    start() {
      counts = new Map();
      running = true;
      loop = (async () => {
        while (running) {
          await sample();
          await new Promise((resolve) => setTimeout(resolve, intervalMs));
        }
      })().catch(() => {
        // The database went away (Ctrl-C cleanup, a failed run): the run reports that, not the sampler.
        running = false;
      });
    },
    async stop() {
      running = false;
      await loop;
      const total = [...counts.values()].reduce((sum, n) => sum + n, 0) || 1;
      return Object.fromEntries(
        [...counts].sort((a, b) => b[1] - a[1]).map(([event, n]) => [event, n / total]),
      );
    },
  };
}
