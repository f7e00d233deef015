/**
 * Presence bookkeeping of this process. A user is online while they hold a stream on any process;
 * PostgreSQL holds the truth as leases (chat_private.presence_leases), one per user and process, under
 * this process's own lease (presence_processes), renewed every second. The hub says when a user's first
 * stream here opens and their last one closes; changes are batched into one `presence_sync` call per
 * tick, so a storm of connections costs a few statements, not one per stream. Going offline waits
 * `graceMs`: a phone reconnecting every second never leaves, and produces no event. A killed process
 * stops renewing; any surviving process expires its leases after `leaseMs` and announces its users
 * offline unless they are connected elsewhere. Transitions are presence.changed events in the log.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Sql } from '../db.ts';
import { log } from '../logger.ts';
import type { Hub } from './hub.ts';

export interface PresenceOptions {
  graceMs: number;
  leaseMs: number;
}

export interface Presence {
  /** The hub's report: a user's first stream here opened (true) or their last one closed (false). */
  changed(userId: string, online: boolean): void;
  /** Gives this process's leases `graceMs` to move to other processes, then stops. */
  stop(): Promise<void>;
}

const FLUSH_MS = 250;
/** Users per presence_sync call: each call holds the event lock for its inserts. */
const CHUNK = 500;

export async function startPresence(sql: Sql, hub: Hub, options: PresenceOptions): Promise<Presence> {
  const processId = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  /** Users whose lease this process holds (or is taking). */
  const held = new Set<string>();
  const came = new Set<string>();
  /** Users whose last stream here closed, and when. */
  const closing = new Map<string, number>();
  let stopped = false;

  const heartbeat = async () => {
    const [row] = await sql<{ fresh: boolean }[]>`
      select chat_server.presence_heartbeat(${processId}, ${options.leaseMs}) as fresh`;
    // Expired meanwhile (a long pause, a lost connection): its leases are gone, take them again.
    if (row?.fresh) for (const user of held) came.add(user);
  };
  await heartbeat();

  const flush = async () => {
    const now = Date.now();
    const went: string[] = [];
    const wentAt: Date[] = [];
    for (const [user, closedAt] of closing) {
      if (hub.streamsOf(user) > 0) closing.delete(user);
      else if (now - closedAt >= options.graceMs) {
        closing.delete(user);
        if (!held.delete(user)) continue;
        went.push(user);
        wentAt.push(new Date(closedAt));
      }
    }
    const arrived = [...came];
    came.clear();
    for (const user of arrived) held.add(user);
    for (let i = 0; i < Math.max(arrived.length, went.length); i += CHUNK) {
      const up = arrived.slice(i, i + CHUNK);
      const down = went.slice(i, i + CHUNK);
      try {
        await sql`select chat_server.presence_sync(${processId}, ${sql.array(up)}::text[],
          ${sql.array(down)}::text[], ${sql.array(wentAt.slice(i, i + CHUNK))}::timestamptz[])`;
      } catch (error) {
        log.warn({ reason: (error as Error).message }, 'presence: sync failed, retrying');
        for (const user of up) came.add(user);
        for (const [j, user] of down.entries()) {
          held.add(user);
          closing.set(user, wentAt[i + j]?.getTime() ?? now);
        }
      }
    }
  };

  let flushing: Promise<void> | null = null;
  let beating: Promise<void> | null = null;
  const flushTimer = setInterval(() => {
    if (flushing || stopped || (came.size === 0 && closing.size === 0)) return;
    flushing = flush().finally(() => {
      flushing = null;
    });
  }, FLUSH_MS);
  const beatTimer = setInterval(
    () => {
      if (beating || stopped) return;
      beating = heartbeat()
        .catch((error: unknown) =>
          log.warn({ reason: (error as Error).message }, 'presence: heartbeat failed'),
        )
        .finally(() => {
          beating = null;
        });
    },
    Math.min(1000, Math.floor(options.leaseMs / 6)),
  );
  flushTimer.unref();
  beatTimer.unref();

  return {
    changed(userId, online) {
      if (online) {
        if (!closing.delete(userId) && !held.has(userId)) came.add(userId);
      } else if (held.has(userId) || came.has(userId)) {
        closing.set(userId, Date.now());
      }
    },
    async stop() {
      stopped = true;
      clearInterval(flushTimer);
      clearInterval(beatTimer);
      await Promise.all([flushing, beating]);
      await sql`select chat_server.presence_release(${processId}, ${options.graceMs})`.catch(
        (error: unknown) => log.warn({ reason: (error as Error).message }, 'presence: release failed'),
      );
    },
  };
}
