/**
 * Ctrl-C in a terminal sends SIGINT to the whole foreground process group: `npm start` with its
 * embedded PostgreSQL must stop cleanly, without PostgreSQL cutting the server's own connections.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/realtime.ts';

const test = suite('faults: Ctrl-C');

test('SIGINT to the process group stops server and embedded PostgreSQL without FATAL lines', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'mc-ctrl-c-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: '',
      MICROCHATTER_CONFIG: '',
      PORT: '0',
      MICROCHATTER_DATA_DIR: dataDir,
      MICROCHATTER_EMBEDDED_PG_PORT: String(await freePort()),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, as a shell gives a foreground job.
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitFor(() => output.includes('Microchatter listening on'), 'the server listening', 60_000);
    const url = /listening on (http:\/\/[^\s"]+)/.exec(output)?.[1];
    assert.is((await fetch(`${url}/healthz`)).status, 200);
    process.kill(-(child.pid ?? 0), 'SIGINT');
    assert.is(await exited, 0, output);
    assert.not.match(output, /FATAL|ERROR/, output);
  } finally {
    if (child.exitCode === null) process.kill(-(child.pid ?? 0), 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
