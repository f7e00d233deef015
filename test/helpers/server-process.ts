/** `server/main.ts` as a real process on a test database, as an operator would run it. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestDatabase } from './db.ts';

const LISTENING = /Microchatter listening on (https?:\/\/\S+) \(database: external\)/;

export interface ServerProcess {
  /** Base URL from the server's own "listening" line (the real port: PORT=0). */
  url: string;
  /** Its MICROCHATTER_DATA_DIR, a fresh temporary directory. */
  dataDir: string;
  child: ChildProcess;
  output(): string;
  /** Sends SIGTERM; resolves with the exit code, or a note that it was still running after 5 s. */
  stop(): Promise<number | string | null>;
}

export async function startServerProcess(
  db: TestDatabase,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'mc-process-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      PORT: '0',
      HOST: '127.0.0.1',
      MICROCHATTER_CONFIG: '',
      MICROCHATTER_DATA_DIR: dataDir,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const code = await Promise.race([
      exited,
      new Promise<string>((resolve) => setTimeout(() => resolve('still running after 5 s'), 5_000)),
    ]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return code;
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line within 30 s:\n${output}`)), 30_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        const match = LISTENING.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      void exited.then((code) => reject(new Error(`server exited early (code ${code}):\n${output}`)));
    });
    return { url, dataDir, child, output: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
