/**
 * The database a CLI command works on, found the way `npm start` finds it: DATABASE_URL, else the
 * embedded PostgreSQL in the data directory. When a server already runs that cluster (its
 * postmaster.pid names a live process) the command connects to it; otherwise it starts the cluster
 * for the command's duration and stops it after.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import type { Config } from '../config.ts';
import { connectDatabase, type Sql } from '../db.ts';
import { EMBEDDED_DATABASE, type EmbeddedPostgres, startEmbeddedPostgres } from '../embedded.ts';
import { applyMigrations } from '../migrate.ts';

export interface Database {
  sql: Sql;
  url: string;
  /** For messages: "embedded at <dir>" or "DATABASE_URL". */
  description: string;
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The URL of the embedded cluster when a postmaster already serves the data directory. postmaster.pid
 * lists, one per line: pid, data directory, start time, port, …. A file left by a crash names a port
 * nobody answers on, so the answer, not the pid, decides.
 */
async function runningEmbeddedUrl(dataDir: string): Promise<string | undefined> {
  const lines = (await readOptional(path.join(dataDir, 'postgres', 'postmaster.pid')))?.split('\n');
  const port = Number(lines?.[3]);
  const password = (await readOptional(path.join(dataDir, 'postgres-password')))?.trim();
  if (!Number.isInteger(port) || port <= 0 || !password) return undefined;
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${EMBEDDED_DATABASE}`;
  const probe = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await probe`select 1`;
    return url;
  } catch {
    return undefined;
  } finally {
    await probe.end({ timeout: 1 });
  }
}

/**
 * Stops a cluster this command started, also when the command is interrupted: its own connections
 * close first, so PostgreSQL's shutdown has no client to print FATAL lines about.
 */
function stopOnSignals(embedded: EmbeddedPostgres, sql: Sql): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`microchatter: ${signal}, stopping the embedded PostgreSQL`);
    void sql
      .end({ timeout: 0 })
      .catch(() => {})
      .then(() => embedded.stop())
      .finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
}

/**
 * graphile-migrate closes its pool without waiting, and exits the process (code 1) when a connection
 * of that pool is cut by a shutdown: before stopping a cluster this command started, let them close.
 */
async function otherClientsGone(sql: Sql, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [others] = await sql<{ count: number }[]>`
      select count(*)::int as count from pg_stat_activity
      where backend_type = 'client backend' and pid <> pg_backend_pid()`;
    if ((others?.count ?? 0) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface DatabaseOptions {
  /** Apply the committed migrations first (unless MICROCHATTER_MIGRATE=false), as `npm start` does. */
  migrate: boolean;
}

export async function withDatabase<T>(
  config: Config,
  options: DatabaseOptions,
  work: (database: Database) => Promise<T>,
): Promise<T> {
  let embedded: EmbeddedPostgres | undefined;
  let url = config.databaseUrl;
  let description = 'DATABASE_URL';
  if (!url) {
    description = `embedded at ${config.dataDir}`;
    url = await runningEmbeddedUrl(config.dataDir);
    if (!url) {
      embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort });
      url = embedded.url;
    }
  }
  // Connects on first use, so a failed migration below opens nothing.
  const sql = connectDatabase(url, { max: 2 });
  const release = embedded ? stopOnSignals(embedded, sql) : () => {};
  try {
    if (options.migrate && config.migrate) await applyMigrations(url);
    return await work({ sql, url, description });
  } finally {
    if (embedded) await otherClientsGone(sql).catch(() => {});
    await sql.end({ timeout: 5 });
    release();
    await embedded?.stop();
  }
}
