/** The application's connection pool (porsager/postgres). */
import postgres from 'postgres';

export type Sql = postgres.Sql;

export interface PoolOptions {
  /** Connections in the pool; a server process mostly waits on Postgres, so a handful is enough. */
  max?: number;
  /** How pg_stat_activity names the pool's connections (default `microchatter`). */
  applicationName?: string;
  /**
   * Messages a user may send per minute through this pool's connections (0: no limit). A session
   * setting that chat.send_message reads, so the limit is kept in the sending transaction and shared
   * by every process on the database; psql sessions, which do not set it, send unlimited.
   */
  sendRatePerMinute?: number;
  /**
   * `false`: sends through this pool's connections do not wait for their commit's WAL flush (the
   * session setting microchatter.send_synchronous_commit; docs/sql-api.md says what it risks).
   */
  sendSynchronousCommit?: boolean;
  /** Lets chat_admin.create_webhook accept loopback and private addresses (MICROCHATTER_WEBHOOK_ALLOW_PRIVATE). */
  webhookAllowPrivate?: boolean;
}

/**
 * How long a request's query may wait for a connection. A query not yet sent after this long means
 * the database is away or the pool is swamped: the client gets 503 now rather than a hang, and the
 * query is taken off the queue, so it never runs after the client was told it failed.
 */
export const CONNECTION_WAIT_MS = 4000;

/** Resolves as `query` does, or rejects with 57014 (503 MCDBX) if it is still unsent after `waitMs`. */
let inFlight = 0;

/** Request queries sent or waiting for a connection, on this process (a metrics gauge). */
export const queriesInFlight = (): number => inFlight;

export async function sentWithin<T>(
  query: Promise<T> & { cancel(): unknown },
  waitMs = CONNECTION_WAIT_MS,
): Promise<T> {
  const timer = setTimeout(() => {
    // `state` is the backend it was sent to; a query with none is still queued or connecting.
    if (!(query as unknown as { state?: unknown }).state) void query.cancel();
  }, waitMs);
  inFlight++;
  try {
    return await query;
  } finally {
    inFlight--;
    clearTimeout(timer);
  }
}

/**
 * bigint (ids, seqs, counts) becomes a JSON number, as it already is inside jsonb values such as
 * last_message; a value beyond 2^53, which no id or count here reaches, stays a string rather than
 * silently losing digits.
 */
const bigintAsNumber = {
  to: 20,
  from: [20],
  serialize: (value: unknown) => String(value),
  parse: (text: string): number | string => {
    const value = Number(text);
    return Number.isSafeInteger(value) ? value : text;
  },
};

/**
 * timestamptz stays PostgreSQL's text, made ISO 8601 ("2026-11-25T13:06:42.927849+00:00"): the same
 * form, microseconds and all, that to_jsonb gives the timestamps inside jsonb values, where a JS Date
 * would cut them to milliseconds. Sessions run in UTC so every timestamp reads alike.
 */
const timestampAsIsoText = {
  to: 1184,
  from: [1184],
  serialize: (value: unknown) => (value instanceof Date ? value.toISOString() : String(value)),
  parse: (text: string) => text.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'),
};

/** Column names stay snake_case, exactly as the SQL API returns them (no transform). */
export function connectDatabase(url: string, options: PoolOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    types: { bigint: bigintAsNumber, timestamptz: timestampAsIsoText },
    // Fail fast when Postgres is unreachable: /healthz must answer 503, not hang.
    connect_timeout: 5,
    // Seconds before a connection that closed is tried again. The driver's default grows to 20 s over
    // failed attempts, which kept queries waiting long after a restarted database was back.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
    idle_timeout: 60,
    // Notices (e.g. "relation already exists, skipping") are for DBAs in psql, not for the server log.
    onnotice: () => {},
    connection: {
      application_name: options.applicationName ?? 'microchatter',
      timezone: 'UTC',
      'microchatter.send_rate_per_minute': String(options.sendRatePerMinute ?? 0),
      'microchatter.webhook_allow_private': String(options.webhookAllowPrivate ?? false),
      'microchatter.send_synchronous_commit': options.sendSynchronousCommit === false ? 'off' : 'on',
    },
  });
}
