/**
 * A token bucket per key (a user id, a client address, …) kept in PostgreSQL, for slowing down
 * password guessing and message floods across every server process on the database: N processes
 * allow what one does, not N times as much.
 *
 * A bucket holds up to `limit` tokens and refills at `limit` per `windowSeconds`: a burst of `limit`
 * passes, then one more per `windowSeconds / limit`. Each call is one statement on
 * chat_private.rate_limits (chat_server.take_rate_token; an unlogged table, see the migration), and
 * refilled buckets are deleted by chat_server.prune_events, which the server runs hourly.
 */
import type { Sql } from './db.ts';

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Takes one token for `key`, or says how many seconds until one is available (nothing is taken). */
  take(key: string): Promise<RateDecision>;
  /** Returns a token taken for an attempt that turned out not to count (e.g. a successful login). */
  giveBack(key: string): Promise<void>;
  /** Forgets `key`: its next burst is a full one. */
  reset(key: string): Promise<void>;
}

export interface RateLimitOptions {
  /** The database every process shares. */
  sql: Sql;
  /** Which limit this is ('send', 'login', …): buckets of different limiters never meet. */
  bucket: string;
  /** Tokens per window; also the largest burst. */
  limit: number;
  windowSeconds: number;
}

export function createRateLimiter(options: RateLimitOptions): RateLimiter {
  const { sql, bucket, limit, windowSeconds } = options;
  if (!(limit > 0) || !(windowSeconds > 0) || !Number.isInteger(limit))
    throw new Error('rate limiter: limit (a whole number) and window must be positive');

  // Keys are mostly user ids: one user however the caller spelt the id's Unicode, as in SQL (docs/auth.md).
  const nfc = (key: string) => key.normalize('NFC');
  return {
    async take(key) {
      const [row] = await sql<{ taken: boolean; retry_after_seconds: number }[]>`
        select taken, retry_after_seconds
        from chat_server.take_rate_token(${bucket}, ${nfc(key)}, ${limit}, ${windowSeconds})`;
      if (row?.taken) return { ok: true };
      return { ok: false, retryAfterSeconds: Math.max(1, row?.retry_after_seconds ?? 1) };
    },
    async giveBack(key) {
      await sql`select chat_server.return_rate_token(${bucket}, ${nfc(key)}, ${limit}, ${windowSeconds})`;
    },
    async reset(key) {
      await sql`select chat_server.reset_rate_limit(${bucket}, ${nfc(key)})`;
    },
  };
}
