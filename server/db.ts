/** The application's connection pool (porsager/postgres). */
import postgres from 'postgres';

export type Sql = postgres.Sql;

export interface PoolOptions {
  /** Connections in the pool; a server process mostly waits on Postgres, so a handful is enough. */
  max?: number;
}

/**
 * Column names stay snake_case, exactly as the SQL API returns them (no transform), and bigint stays a
 * string: JSON cannot carry 64-bit integers faithfully.
 */
export function connectDatabase(url: string, options: PoolOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    // Fail fast when Postgres is unreachable: /healthz must answer 503, not hang.
    connect_timeout: 5,
    idle_timeout: 60,
    // Notices (e.g. "relation already exists, skipping") are for DBAs in psql, not for the server log.
    onnotice: () => {},
    connection: { application_name: 'microchatter' },
  });
}
