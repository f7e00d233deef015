/**
 * A throw-away database for the benchmarks, so they never touch user data: a database
 * `mc_bench_<random>` created (and dropped after) on BENCH_DATABASE_URL's server, or, without it, an
 * embedded PostgreSQL in a temporary directory on a free port, removed after.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../server/embedded.ts';
import { applyMigrations } from '../../server/migrate.ts';

export interface BenchDatabase {
  /** URL of the migrated, empty benchmark database. */
  url: string;
  /** Where it runs: "embedded" or the server's host:port. */
  where: string;
  /** Drops the database and stops the embedded server; safe to call twice. */
  close(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

async function withAdmin<T>(adminUrl: string, work: (admin: postgres.Sql) => Promise<T>): Promise<T> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

export interface BenchDatabaseOptions {
  /**
   * An embedded cluster with fsync and synchronous commit on, as a production database runs (default:
   * off, the figures are the SQL's cost, not the disk's). BENCH_DATABASE_URL's server keeps its own.
   */
  durable?: boolean;
}

export async function openBenchDatabase(options: BenchDatabaseOptions = {}): Promise<BenchDatabase> {
  const name = `mc_bench_${randomBytes(4).toString('hex')}`;
  let adminUrl = process.env.BENCH_DATABASE_URL;
  let embedded: EmbeddedPostgres | undefined;
  let tempDir: string | undefined;
  let created = false;
  let closing: Promise<void> | undefined;

  const close = () => {
    closing ??= (async () => {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      const url = adminUrl;
      if (created && url) {
        await withAdmin(url, (admin) => admin`drop database if exists ${admin(name)} with (force)`).catch(
          (error) => console.error(`cleanup: could not drop ${name}: ${error}`),
        );
      }
      await embedded?.stop();
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
    })();
    return closing;
  };
  // Ctrl-C during a long run must still drop the database and remove the temporary cluster.
  function onSignal(signal: NodeJS.Signals) {
    console.error(`\n${signal}: cleaning up`);
    void close().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  }
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);

  try {
    if (!adminUrl) {
      tempDir = await mkdtemp(path.join(tmpdir(), 'microchatter-bench-'));
      // Throw-away cluster: no fsync unless asked, like the test suite.
      embedded = await startEmbeddedPostgres({
        dataDir: tempDir,
        port: await freePort(),
        unsafeFastWrites: !options.durable,
      });
      adminUrl = embedded.urlFor('postgres');
    }
    await withAdmin(adminUrl, (admin) => admin`create database ${admin(name)}`);
    created = true;
    const url = withDatabase(adminUrl, name);
    await applyMigrations(url);
    return { url, where: embedded ? 'embedded' : new URL(adminUrl).host, close };
  } catch (error) {
    await close();
    throw error;
  }
}
