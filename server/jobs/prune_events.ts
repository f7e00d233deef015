/**
 * Task `prune_events` (hourly, crontab in worker.ts): event retention. Deletes events older than
 * MICROCHATTER_EVENT_RETENTION_DAYS, and the webhook deliveries delivered or failed before then.
 */
import type { Task } from 'graphile-worker';
import type { Sql } from '../db.ts';

export function pruneEvents(sql: Sql, retentionDays: number): Task {
  return async (_payload, helpers) => {
    const [{ deleted }] = await sql<{ deleted: number }[]>`
      select chat_server.prune_events(${`${retentionDays} days`}::interval) as deleted`;
    if (deleted > 0) helpers.logger.info(`pruned ${deleted} events older than ${retentionDays} days`);
  };
}
