/**
 * Task `prune_attachments` (hourly, crontab in worker.ts): removes uploads never attached to a
 * message within 24 h (chat_server.prune_attachments).
 */
import type { Task } from 'graphile-worker';
import type { Sql } from '../db.ts';

export function pruneAttachments(sql: Sql): Task {
  return async (_payload, helpers) => {
    const [{ removed }] = await sql<{ removed: number }[]>`select chat_server.prune_attachments() as removed`;
    if (removed > 0) helpers.logger.info(`removed ${removed} uploads never attached`);
  };
}
