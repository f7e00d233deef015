/**
 * Applies the committed migrations (migrations/committed) at start-up, so a deployment needs no
 * separate migration step. migrations/current.sql is work in progress and is never run here.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import graphileMigrate, { type Settings } from 'graphile-migrate';
// Two helpers its public API lacks: reading .gmrc as its CLI does (JSON5), and closing its pool. They
// are internal paths, so package.json pins graphile-migrate exactly and test/sql/migrate.test.ts
// fails on an upgrade that moves them.
import { getSettingsFromJSON } from 'graphile-migrate/dist/commands/_common.js';
import { clearAllPools } from 'graphile-migrate/dist/pgReal.js';
import { runMigrations as installJobQueue, Logger as WorkerLogger } from 'graphile-worker';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const migrationsFolder = path.join(projectRoot, 'migrations');

/** graphile-migrate's message when another process holds its advisory lock. */
const LOCK_BUSY = 'Failed to get exclusive lock';

// Progress lines ("Up to date") would drown the single start-up line; problems still reach stderr.
const quietLogger = new graphileMigrate.Logger(() => (level, message) => {
  const name = String(level);
  if (name === 'error' || name === 'warning') console.error(`[migrate] ${message}`);
});

const quietWorkerLogger = new WorkerLogger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`[graphile-worker] ${message}`);
});

/**
 * graphile-migrate insists on a root connection string even for `migrate`, which never uses it (only
 * reset/shadow actions do); by default it is "template1", or ROOT_DATABASE_URL from the developer's
 * shell. We give it the same server's template1 so the call depends on nothing but `databaseUrl`.
 */
function rootUrlFor(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.pathname = '/template1';
  return url.toString();
}

/**
 * Migrates `databaseUrl`. Several server processes may start together against one database;
 * graphile-migrate lets only one migrate at a time and fails the others at once, so those wait and
 * retry, and then find nothing left to do.
 */
export async function applyMigrations(databaseUrl: string, timeoutMs = 60_000): Promise<void> {
  // Same placeholders and actions as the CLI (`npm run db:migrate`), from the project's .gmrc.
  const gmrc: Settings = await getSettingsFromJSON(path.join(projectRoot, '.gmrc'));
  const settings: Settings = {
    ...gmrc,
    connectionString: databaseUrl,
    rootConnectionString: rootUrlFor(databaseUrl),
    migrationsFolder,
    logger: quietLogger,
  };
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await graphileMigrate.migrate(settings);
      // graphile-migrate keeps its pg pool open 200 ms for reuse, and exits the process (code 1) if
      // that idle connection is then terminated, e.g. by a shutdown right after start: close it now.
      clearAllPools();
      // graphile-worker's own schema (graphile_worker), which it migrates itself: installed here too,
      // so every migrated database (tests' templates included) can enqueue jobs from its first commit.
      await installJobQueue({ connectionString: databaseUrl, logger: quietWorkerLogger });
      return;
    } catch (error) {
      const busy = error instanceof Error && error.message.includes(LOCK_BUSY);
      if (!busy || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * attempt, 1000)));
    }
  }
}
