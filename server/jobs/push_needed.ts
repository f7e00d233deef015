/**
 * Task `push_needed` {user}: woken by a message for an offline user (chat_private.push_event); sends
 * their push.needed webhook once MICROCHATTER_PUSH_DELAY has passed, unless they read it, came online or
 * were pushed already in this offline period (chat_server.push_needed decides, and queues the job again
 * when the waiting message is not old enough yet).
 */
import type { Task } from 'graphile-worker';
import type { Sql } from '../db.ts';

export function pushNeeded(sql: Sql, delaySeconds: number): Task {
  return async (payload) => {
    const { user } = payload as { user: string };
    await sql`select chat_server.push_needed(${user}, ${delaySeconds})`;
  };
}
