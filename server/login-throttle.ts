/**
 * Slows down password guessing (HTTP Basic), per client address and per user id, with limits kept in
 * PostgreSQL so every server process counts the same failures (server/rate-limit.ts).
 *
 * An attempt takes its tokens before the password is checked, so that a burst of parallel guesses is
 * counted in full; a success gives them back (and forgets the user's failures), and so does an attempt
 * that never reached a verdict because the database failed.
 */
import type { Sql } from './db.ts';
import { ApiError } from './errors.ts';
import { createRateLimiter } from './rate-limit.ts';

export interface LoginAttempt {
  /** The password was right: the attempt does not count. */
  succeeded(): Promise<void>;
  /** No verdict (the check itself failed): the attempt does not count. */
  abandoned(): Promise<void>;
}

export interface LoginThrottle {
  /**
   * Counts an attempt against the address and, when the credentials named one, the user. Throws
   * ApiError MCRAT (429, Retry-After) when either has no failures left; then nothing is counted.
   */
  attempt(clientAddress: string, userId: string | undefined): Promise<LoginAttempt>;
}

export interface LoginThrottleOptions {
  maxFailures: number;
  windowSeconds: number;
}

export function createLoginThrottle(sql: Sql, options: LoginThrottleOptions): LoginThrottle {
  const failures = createRateLimiter({
    sql,
    bucket: 'login',
    limit: options.maxFailures,
    windowSeconds: options.windowSeconds,
  });
  const giveBackAll = (keys: readonly string[]) => Promise.all(keys.map((key) => failures.giveBack(key)));

  return {
    async attempt(clientAddress, userId) {
      const addressKey = `address:${clientAddress}`;
      const userKey = userId === undefined ? undefined : `user:${userId}`;
      const taken: string[] = [];
      for (const key of userKey ? [addressKey, userKey] : [addressKey]) {
        const decision = await failures.take(key);
        if (!decision.ok) {
          await giveBackAll(taken);
          throw new ApiError('MCRAT', 'too many failed logins, try again later', {
            'Retry-After': String(decision.retryAfterSeconds),
          });
        }
        taken.push(key);
      }
      return {
        async succeeded() {
          await failures.giveBack(addressKey);
          if (userKey) await failures.reset(userKey);
        },
        async abandoned() {
          // The database that just failed the check may fail this too; the caller reports the first error.
          await giveBackAll(taken).catch(() => {});
        },
      };
    },
  };
}
