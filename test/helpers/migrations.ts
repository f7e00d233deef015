/**
 * Databases at an earlier point of the schema's history, for migration tests: graphile-migrate has no
 * "up to N", so the committed migrations before the one under test are copied into a folder of their
 * own and applied from there; server/migrate.ts then applies the rest from the real folder, as a
 * deployment's next start would.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import graphileMigrate from 'graphile-migrate';
import { clearAllPools } from 'graphile-migrate/dist/pgReal.js';
import postgres from 'postgres';
import { databaseUrl } from './db.ts';

const committed = path.join('migrations', 'committed');

const silent = new graphileMigrate.Logger(() => () => {});

/** The maintenance connection test/run.ts hands the suites (its database need not be `postgres`). */
function admin() {
  const url = process.env.MC_TEST_ADMIN_URL;
  if (!url) throw new Error('MC_TEST_ADMIN_URL is not set: run the suites through `npm test`');
  return postgres(url, { max: 1, onnotice: () => {} });
}

/** A new empty database (dropped with the run's others by test/run.ts), migrated up to just before `firstLeftOut`. */
export async function databaseBefore(firstLeftOut: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `mc_t_${process.env.MC_TEST_RUN_ID}_${randomBytes(4).toString('hex')}`;
  const maintenance = admin();
  await maintenance`create database ${maintenance(name)}`;
  await maintenance.end();
  const url = databaseUrl(name);

  const files = (await readdir(committed)).filter((file) => file.endsWith('.sql')).sort();
  const earlier = files.filter((file) => file < firstLeftOut);
  if (earlier.length === files.length) throw new Error(`no committed migration ${firstLeftOut}…`);
  const folder = await mkdtemp(path.join(tmpdir(), 'mc-migrations-'));
  try {
    await mkdir(path.join(folder, 'committed'));
    for (const file of earlier)
      await copyFile(path.join(committed, file), path.join(folder, 'committed', file));
    await writeFile(path.join(folder, 'current.sql'), '');
    const root = new URL(url);
    root.pathname = '/template1';
    await graphileMigrate.migrate({
      connectionString: url,
      rootConnectionString: root.toString(),
      migrationsFolder: folder,
      logger: silent,
    });
  } finally {
    clearAllPools();
    await rm(folder, { recursive: true, force: true });
  }
  return {
    url,
    async drop() {
      const maintenance = admin();
      await maintenance`drop database if exists ${maintenance(name)} with (force)`;
      await maintenance.end();
    },
  };
}
