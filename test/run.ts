/**
 * `npm test [dir | file | pattern]`: runs the uvu suites (test/**\/*.test.ts) against a real PostgreSQL.
 *
 * TEST_DATABASE_URL set: that server is used, the URL's database serving as maintenance connection.
 * Unset: an embedded PostgreSQL starts in a temporary directory on a free port and is removed after.
 * The committed migrations are applied once to a template database `mc_template_<run id>`; suites clone it
 * (test/helpers/db.ts). The last line printed is `N passed, N failed[, N skipped]`, which CI reads;
 * the counts come from test/uvu-child.ts as JSON, not from uvu's printed summary.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../server/embedded.ts';
import { applyMigrations } from '../server/migrate.ts';
import { freePort } from './helpers/ports.ts';

const runId = randomBytes(3).toString('hex');
// Per run, so two runs against one shared server (TEST_DATABASE_URL) do not drop each other's template.
const TEMPLATE = `mc_template_${runId}`;

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Turns the command-line filter into uvu's `dir pattern` arguments. */
function uvuTarget(filter: string | undefined): [dir: string, pattern: string] {
  const testPattern = '\\.test\\.ts$';
  if (!filter) return ['test', testPattern];
  if (existsSync(filter) && statSync(filter).isDirectory()) return [filter, testPattern];
  if (existsSync(filter)) {
    return [path.dirname(filter), `${path.basename(filter).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`];
  }
  return ['test', `${filter}.*${testPattern}`];
}

async function buildTemplate(adminUrl: string): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    // A template database cannot be dropped until it is unmarked.
    await admin`update pg_database set datistemplate = false where datname = ${TEMPLATE}`.catch(() => {});
    await admin`drop database if exists ${admin(TEMPLATE)} with (force)`;
    await admin`create database ${admin(TEMPLATE)}`;
    await applyMigrations(withDatabase(adminUrl, TEMPLATE));
    // Cloning fails while anyone is connected to the template, so no one may connect from now on.
    await admin`alter database ${admin(TEMPLATE)} with is_template true allow_connections false`;
  } finally {
    await admin.end();
  }
}

async function dropRunDatabases(adminUrl: string): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const leftovers = await admin<{ datname: string }[]>`
      select datname from pg_database where datname like ${`mc\\_t\\_${runId}\\_%`}`;
    for (const { datname } of leftovers) await admin`drop database if exists ${admin(datname)} with (force)`;
    await admin`alter database ${admin(TEMPLATE)} with is_template false`.catch(() => {});
    await admin`drop database if exists ${admin(TEMPLATE)} with (force)`;
  } finally {
    await admin.end();
  }
}

/** Runs the suites in a child (tsx loaded, test/uvu-child.ts), streams its output, reads its counts. */
async function runSuites(
  adminUrl: string,
  filter: string | undefined,
): Promise<{ counts?: Counts; exitCode: number }> {
  const [dir, pattern] = uvuTarget(filter);
  const countsFile = path.join(await mkdtemp(path.join(tmpdir(), 'mc-counts-')), 'counts.json');
  const args = ['--import', 'tsx', path.join('test', 'uvu-child.ts'), dir, pattern, '(^|/)helpers/'];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      ...(process.stdout.isTTY ? {} : { NO_COLOR: '1', FORCE_COLOR: '0' }),
      MC_TEST_ADMIN_URL: adminUrl,
      MC_TEST_TEMPLATE: TEMPLATE,
      MC_TEST_RUN_ID: runId,
      MC_TEST_COUNTS_FILE: countsFile,
    },
  });
  const exitCode = await new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  try {
    const counts = JSON.parse(await readFile(countsFile, 'utf8')) as Counts;
    return { exitCode, counts };
  } catch {
    return { exitCode }; // no suite finished
  } finally {
    await rm(path.dirname(countsFile), { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const filter = process.argv[2];
  let embedded: EmbeddedPostgres | undefined;
  let tempDir: string | undefined;
  let adminUrl = process.env.TEST_DATABASE_URL;
  let counts: Counts = { passed: 0, failed: 0, skipped: 0 };
  let failure: string | undefined;

  try {
    if (!adminUrl) {
      tempDir = await mkdtemp(path.join(tmpdir(), 'microchatter-test-'));
      embedded = await startEmbeddedPostgres({
        dataDir: tempDir,
        port: await freePort(),
        unsafeFastWrites: true,
        // Suites provoke SQL errors and dead connections on purpose; only a dying server is worth printing.
        onLog: (line) => {
          if (/\bPANIC:/.test(line)) console.error(line);
        },
      });
      adminUrl = embedded.urlFor('postgres');
    }
    await buildTemplate(adminUrl);
    const result = await runSuites(adminUrl, filter);
    if (result.counts) counts = result.counts;
    if (!result.counts) failure = `the test runner crashed (exit code ${result.exitCode}) before its summary`;
    else if (result.exitCode !== 0 && counts.failed === 0)
      failure = `uvu exited with code ${result.exitCode}`;
  } catch (error) {
    failure = error instanceof Error ? (error.stack ?? error.message) : String(error);
  } finally {
    if (adminUrl) await dropRunDatabases(adminUrl).catch((error) => console.error(`cleanup: ${error}`));
    await embedded?.stop();
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  }

  if (failure) {
    console.error(`npm test: ${failure}`);
    counts.failed = Math.max(counts.failed, 1);
  }
  const skipped = counts.skipped ? `, ${counts.skipped} skipped` : '';
  console.log(`${counts.passed} passed, ${counts.failed} failed${skipped}`);
  return counts.failed > 0 ? 1 : 0;
}

process.exitCode = await main();
