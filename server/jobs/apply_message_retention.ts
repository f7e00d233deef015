/**
 * Task `apply_message_retention` (hourly, crontab in worker.ts): messages older than
 * MICROCHATTER_MESSAGE_RETENTION_DAYS (or the database setting microchatter.message_retention_days when
 * that is 0) become tombstones, a batch per transaction so no send waits behind a long one.
 */
import type { Task } from 'graphile-worker';
import type { Sql } from '../db.ts';

const BATCH = 5000;

export function applyMessageRetention(sql: Sql, retentionDays: number): Task {
  return async (_payload, helpers) => {
    const days = retentionDays > 0 ? retentionDays : null;
    let total = 0;
    for (;;) {
      if (helpers.abortSignal.aborted) break; // shutting down: the next run goes on
      const [{ tombstoned }] = await sql<{ tombstoned: number }[]>`
        select chat_server.apply_message_retention(${days}, ${BATCH}) as tombstoned`;
      total += tombstoned;
      if (tombstoned < BATCH) break;
    }
    if (total > 0) helpers.logger.info(`message retention: ${total} messages became tombstones`);
  };
}
