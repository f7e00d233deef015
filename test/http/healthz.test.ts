import { createServer } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApp } from '../../server/app.ts';
import { connectDatabase } from '../../server/db.ts';
import { version } from '../../server/version.ts';
import { freshDatabase } from '../helpers/db.ts';
import { type TestApp, testApp } from '../helpers/http.ts';

const test = suite('http: /healthz');
let t: TestApp;

test.before(async () => {
  t = await testApp();
});
test.after(async () => t.close());

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
    });
  });
}

test('GET /healthz answers 200 {"status":"ok", version} when the database is reachable', async () => {
  const response = await t.app.request('/healthz');
  assert.is(response.status, 200);
  assert.equal(await response.json(), { status: 'ok', version });
});

test('GET /healthz answers 503 MCDBX when nothing listens on the database port', async () => {
  const sql = connectDatabase(`postgres://postgres@127.0.0.1:${await closedPort()}/nowhere`);
  try {
    const response = await createApp({ ...t.options, sql }).request('/healthz');
    assert.is(response.status, 503);
    const body = (await response.json()) as { error: { code: string } };
    assert.is(body.error.code, 'MCDBX');
  } finally {
    await sql.end({ timeout: 1 });
  }
});

test('GET /healthz answers 503 MCDBX once its database has been dropped', async () => {
  const db = await freshDatabase();
  const sql = connectDatabase(db.url);
  try {
    await db.drop();
    const response = await createApp({ ...t.options, sql }).request('/healthz');
    assert.is(response.status, 503);
    const body = (await response.json()) as { error: { code: string } };
    assert.is(body.error.code, 'MCDBX');
  } finally {
    await sql.end({ timeout: 1 });
  }
});

test.run();
