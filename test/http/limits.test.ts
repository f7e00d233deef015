/** Limits a hostile or clumsy client meets: send rate, slow requests, cross-origin callers. */
import { connect } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApp } from '../../server/app.ts';
import { connectDatabase } from '../../server/db.ts';
import { startHttpServer } from '../../server/http-server.ts';
import { type TestApp, testApp } from '../helpers/http.ts';

const test = suite('http: limits');
let t: TestApp;

test.before(async () => {
  t = await testApp();
  await t.call('admin', '/admin/rpc/import_users', { users: [{ user_id: 'fast' }, { user_id: 'slow' }] });
});
test.after(async () => t.close());

test('sending faster than the per-user rate answers 429 with Retry-After, and stores nothing', async () => {
  // The limit is a setting of the server's connections, read by send_message.
  const limited = connectDatabase(t.db.url, { max: 2, sendRatePerMinute: 3 });
  const app = createApp({ ...t.options, sql: limited });
  const token = await t.tokenFor('fast');
  const send = (body: string) =>
    app.request('/rpc/send_message', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ recipient: 'slow', body }),
    });
  // A send refused for another reason rolls back and takes no token.
  await t.db.sql`select chat.block_user('slow', 'fast')`;
  for (let i = 0; i < 2; i++) assert.is((await send(`blocked ${i}`)).status, 403);
  await t.db.sql`select chat.unblock_user('slow', 'fast')`;
  for (let i = 0; i < 3; i++) assert.is((await send(`ok ${i}`)).status, 200);
  const refused = await send('one too many');
  assert.is(refused.status, 429);
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  assert.is(((await refused.json()) as { error: { code: string } }).error.code, 'MCRAT');
  const [{ count }] = await t.db.sql`select count(*)::int from chat_private.messages where sender = 'fast'`;
  assert.is(count, 3);
  // Reading is not limited.
  const inbox = await app.request('/rpc/list_conversations', {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.is(inbox.status, 200);
  await limited.end();
});

/** Resolves with how long the server took to drop a connection that sent `prefix` and then stalled. */
function stall(port: number, prefix: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () => socket.write(prefix));
    socket.on('data', () => {});
    socket.on('close', () => resolve(Date.now() - started));
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      reject(new Error('the server kept a stalled connection open for 10 s'));
    }, 10_000).unref();
  });
}

test('a client that stalls in its headers or its body is cut off', async () => {
  const server = await startHttpServer(t.app, {
    host: '127.0.0.1',
    port: 0,
    tls: undefined,
    headersTimeout: 1000,
    requestTimeout: 1500,
  });
  try {
    const port = Number(new URL(server.url).port);
    const headersCut = await stall(port, 'POST /rpc/me HTTP/1.1\r\nHost: x\r\n');
    assert.ok(headersCut < 4000, `headers: cut after ${headersCut} ms`);
    const bodyCut = await stall(
      port,
      'POST /rpc/me HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
    );
    assert.ok(bodyCut < 5000, `body: cut after ${bodyCut} ms`);
    // The server still serves others.
    const health = await fetch(`${server.url}/healthz`);
    assert.is(health.status, 200);
  } finally {
    await server.close();
  }
});

test('CORS: configured origins may call with credentials, others get no CORS headers', async () => {
  const app = createApp({ ...t.options, corsOrigins: ['https://site.example'] });
  const preflight = await app.request('/rpc/send_message', {
    method: 'OPTIONS',
    headers: {
      origin: 'https://site.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    },
  });
  assert.is(preflight.status, 204);
  assert.is(preflight.headers.get('access-control-allow-origin'), 'https://site.example');
  assert.is(preflight.headers.get('access-control-allow-credentials'), 'true');
  const stranger = await app.request('/healthz', { headers: { origin: 'https://evil.example' } });
  assert.is(stranger.headers.get('access-control-allow-origin'), null);
  const none = await t.app.request('/healthz', { headers: { origin: 'https://site.example' } });
  assert.is(none.headers.get('access-control-allow-origin'), null);
});

test.run();
