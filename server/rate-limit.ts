/**
 * An in-memory token bucket per key (a user id, a client address, …), for slowing down password
 * guessing and message floods within one server process.
 *
 * A bucket holds up to `limit` tokens and refills at `limit` per `windowSeconds`: a burst of `limit`
 * passes, then one more per `windowSeconds / limit`. A full bucket is the same as no bucket, so keys are
 * forgotten as soon as they refill; memory stays bounded by `maxKeys` even under a flood of new keys
 * (the least recently used are dropped first). No timers: all the work happens on calls.
 */

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Takes one token for `key`, or says how many seconds until one is available (nothing is taken). */
  take(key: string): RateDecision;
  /** Returns a token taken for an attempt that turned out not to count (e.g. a successful login). */
  giveBack(key: string): void;
  /** Forgets `key`: its next burst is a full one. */
  reset(key: string): void;
  /** Keys currently held (for tests and metrics). */
  size(): number;
}

export interface RateLimitOptions {
  /** Tokens per window; also the largest burst. */
  limit: number;
  windowSeconds: number;
  /** Most keys held at once. Default 100000 (a few MB). */
  maxKeys?: number;
  /** Milliseconds clock, replaceable in tests. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Entries checked for expiry per write: enough to keep pace with inserts without a sweep timer. */
const EXPIRY_CHECKS_PER_WRITE = 2;

export function createRateLimiter(options: RateLimitOptions): RateLimiter {
  const { limit, windowSeconds, maxKeys = 100_000, now = Date.now } = options;
  if (!(limit > 0) || !(windowSeconds > 0))
    throw new Error('rate limiter: limit and window must be positive');
  const tokensPerMs = limit / (windowSeconds * 1000);
  // Map iteration order is insertion order; re-inserting on every write keeps the least recently
  // written keys first, which is what both expiry and eviction look at.
  const buckets = new Map<string, Bucket>();

  const tokensOf = (bucket: Bucket | undefined, at: number): number =>
    bucket ? Math.min(limit, bucket.tokens + (at - bucket.updatedAt) * tokensPerMs) : limit;

  const store = (key: string, tokens: number, at: number): void => {
    buckets.delete(key);
    if (tokens >= limit) return;
    buckets.set(key, { tokens, updatedAt: at });
    let checked = 0;
    for (const [oldKey, bucket] of buckets) {
      if (checked++ >= EXPIRY_CHECKS_PER_WRITE) break;
      if (tokensOf(bucket, at) >= limit) buckets.delete(oldKey);
    }
    for (const oldKey of buckets.keys()) {
      if (buckets.size <= maxKeys) break;
      buckets.delete(oldKey);
    }
  };

  return {
    take(key) {
      const at = now();
      const bucket = buckets.get(key);
      const tokens = tokensOf(bucket, at);
      if (tokens < 1) {
        // Still knocking: keep the key among the most recent, so a flood of new keys evicts others first.
        if (bucket) {
          buckets.delete(key);
          buckets.set(key, bucket);
        }
        return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / tokensPerMs / 1000)) };
      }
      store(key, tokens - 1, at);
      return { ok: true };
    },
    giveBack(key) {
      const bucket = buckets.get(key);
      if (!bucket) return;
      const at = now();
      store(key, tokensOf(bucket, at) + 1, at);
    },
    reset(key) {
      buckets.delete(key);
    },
    size() {
      return buckets.size;
    },
  };
}
