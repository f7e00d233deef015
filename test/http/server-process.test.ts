/** The real thing: `server/main.ts` as a process, over real HTTP, stopped by SIGTERM. */
import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freshDatabase } from '../helpers/db.ts';

const LISTENING = /Microchatter listening on (http:\/\/\S+) \(database: external\)/;

test('the server starts on DATABASE_URL, serves /healthz, and exits 0 on SIGTERM', async () => {
  const db = await freshDatabase();
  await db.sql.end();
  const server = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { ...process.env, DATABASE_URL: db.url, PORT: '0', HOST: '127.0.0.1', MICROCHATTER_CONFIG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
  try {
    const baseUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line within 20 s:\n${output}`)), 20_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        const match = LISTENING.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      server.stdout.on('data', onData);
      server.stderr.on('data', onData);
      void exited.then((code) => reject(new Error(`server exited early (code ${code}):\n${output}`)));
    });

    const response = await fetch(`${baseUrl}/healthz`);
    assert.is(response.status, 200);
    assert.equal(await response.json(), { status: 'ok' });

    server.kill('SIGTERM');
    const code = await Promise.race([
      exited,
      new Promise<string>((resolve) => setTimeout(() => resolve('still running after 5 s'), 5_000)),
    ]);
    assert.is(code, 0, output);
  } finally {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    await db.drop();
  }
});

test.run();
