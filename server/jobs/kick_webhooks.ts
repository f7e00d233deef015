/**
 * Task `kick_webhooks` (at start and every minute): wakes webhook streams whose deliveries have no job,
 * those written before graphile-worker was installed (psql before the server's first start) or whose
 * job was lost. The delivery rows are the truth; jobs are only how they are woken.
 */
import type { Task } from 'graphile-worker';
import type { Sql } from '../db.ts';

export function kickWebhooks(sql: Sql): Task {
  return async () => {
    await sql`select chat_server.kick_webhooks()`;
  };
}
