/**
 * The real Microchatter server as a separate process, the way `npm start` runs it (server/main.ts),
 * on a benchmark database, with a known JWT secret so the benchmark can sign tokens as the host site
 * would, and no send rate limit. Also the two hello-world servers of the Hono layer benchmark.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { type Child, ROOT, spawnNode } from './processes.ts';

export interface BenchServer {
  url: string;
  pid: number;
  /** An HS256 site token for the user, valid for an hour. */
  tokenFor(userId: string): Promise<string>;
  /** Stops the process (gracefully: it closes its pool) and removes its data directory. */
  stop(): Promise<void>;
}

export interface BenchServerOptions {
  databaseUrl: string;
  /** Node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=…']. */
  nodeFlags?: string[];
  /** More settings (environment variables of server/config.ts). */
  env?: Record<string, string>;
  /** The site's JWT secret; processes of one deployment share it. Default: a fresh random one. */
  jwtSecret?: string;
}

export async function startBenchServer(options: BenchServerOptions): Promise<BenchServer> {
  const secret = options.jwtSecret ?? randomBytes(32).toString('hex');
  const dataDir = await mkdtemp(path.join(tmpdir(), 'microchatter-bench-server-'));
  // Also when the benchmark exits without stop() (Ctrl-C): the process is killed by then.
  const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true });
  process.on('exit', removeDataDir);
  let child: Child;
  try {
    child = await spawnNode(path.join(ROOT, 'server/main.ts'), [], {
      name: 'Microchatter server',
      ready: /Microchatter listening on (\S+)/,
      nodeFlags: options.nodeFlags ?? [],
      env: {
        DATABASE_URL: options.databaseUrl,
        PORT: '0',
        HOST: '127.0.0.1',
        // The benchmark database is already migrated (bench/lib/database.ts).
        MICROCHATTER_MIGRATE: 'false',
        MICROCHATTER_DATA_DIR: dataDir,
        MICROCHATTER_JWT_SECRET: secret,
        MICROCHATTER_ADMIN_TOKEN: randomBytes(32).toString('hex'),
        MICROCHATTER_SEND_RATE_PER_MINUTE: '0',
        MICROCHATTER_CONFIG: '',
        ...options.env,
      },
    });
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    process.off('exit', removeDataDir);
    throw error;
  }
  const key = new TextEncoder().encode(secret);
  const url = child.ready[1] ?? '';
  const pid = child.process.pid;
  if (!url || pid === undefined) throw new Error('the server did not say where it listens');
  return {
    url,
    pid,
    tokenFor: (userId) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(userId)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(key),
    async stop() {
      await child.stop();
      await rm(dataDir, { recursive: true, force: true });
      process.off('exit', removeDataDir);
    },
  };
}

export interface HelloServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** bench/lib/hono-hello.ts or bench/lib/raw-hello.ts: `GET /hello` → `{"status":"ok"}`. */
export async function startHelloServer(kind: 'hono' | 'raw'): Promise<HelloServer> {
  const child = await spawnNode(path.join(ROOT, `bench/lib/${kind}-hello.ts`), [], {
    name: `${kind} hello server`,
    ready: /listening on (\S+)/,
  });
  const url = child.ready[1] ?? '';
  const pid = child.process.pid;
  if (!url || pid === undefined) throw new Error(`the ${kind} hello server did not say where it listens`);
  return { url, pid, stop: () => child.stop() };
}
