/** Request ids, the per-request log line, /metrics, /healthz's version and load shedding. */
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApp } from '../../server/app.ts';
import { gatheredWrites } from '../../server/logger.ts';
import { createMetrics } from '../../server/metrics.ts';
import { ADMIN_TOKEN, JWT_SECRET, type TestApp, testApp } from '../helpers/http.ts';
import { tokenExpiringIn, waitFor } from '../helpers/realtime.ts';
import { startServerProcess } from '../helpers/server-process.ts';

const test = suite('http: observability and load shedding');
let t: TestApp;
const METRICS_TOKEN = 'metrics-token-0123456789';
const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

test.before(async () => {
  t = await testApp();
  await t.call('admin', '/admin/rpc/import_users', { users: [{ user_id: 'obs-1' }, { user_id: 'obs-2' }] });
});
test.after(async () => t.close());

test('a sane X-Request-Id is echoed; an absent or odd one is replaced by a fresh id', async () => {
  const given = await t.app.request('/healthz', { headers: { 'x-request-id': 'site-42.a:b' } });
  assert.is(given.headers.get('x-request-id'), 'site-42.a:b');
  for (const odd of [undefined, 'has spaces', 'x'.repeat(200), '"quoted"']) {
    const headers: Record<string, string> = odd === undefined ? {} : { 'x-request-id': odd };
    const answer = await t.app.request('/healthz', { headers });
    assert.match(answer.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  }
  // Errors carry it too.
  const missing = await t.app.request('/nowhere', { headers: { 'x-request-id': 'req-404' } });
  assert.is(missing.status, 404);
  assert.is(missing.headers.get('x-request-id'), 'req-404');
});

test('/healthz says the version', async () => {
  const health = await t.call(null, '/healthz');
  assert.equal(health.body, { status: 'ok', version });
});

test('/metrics: absent without a token setting, 401 without the token, Prometheus text with it', async () => {
  assert.is((await t.app.request('/metrics')).status, 404);
  const app = createApp({ ...t.options, metrics: createMetrics(METRICS_TOKEN) });
  const token = await t.tokenFor('obs-1');
  const me = await app.request('/rpc/me', { headers: { authorization: `Bearer ${token}` } });
  assert.is(me.status, 200);
  await app.request('/rpc/no_such_function', { headers: { authorization: `Bearer ${token}` } });
  const refused = await app.request('/metrics', { headers: { authorization: 'Bearer wrong' } });
  assert.is(refused.status, 401);
  const scraped = await app.request('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  assert.is(scraped.status, 200);
  assert.match(scraped.headers.get('content-type') ?? '', 'text/plain');
  const text = await scraped.text();
  assert.match(text, 'microchatter_http_requests_total{method="GET",route="/rpc/me",status="200"} 1');
  // Unknown function names do not become labels of their own.
  assert.not.match(text, 'no_such_function');
  assert.match(text, 'microchatter_http_request_duration_seconds_bucket');
  assert.match(text, 'microchatter_process_resident_memory_bytes');
});

test('past MICROCHATTER_MAX_IN_FLIGHT requests: 503 MCBSY with Retry-After at once; /healthz still served', async () => {
  const app = createApp({ ...t.options, maxInFlight: 2 });
  const token = await t.tokenFor('obs-2');
  const call = () => app.request('/rpc/me', { headers: { authorization: `Bearer ${token}` } });
  const holder = await t.db.sql.reserve();
  try {
    await holder`begin`;
    await holder`lock table chat_private.users in access exclusive mode`;
    const blocked = [call(), call()];
    await waitFor(async () => {
      const [{ waiting }] = await t.db.sql<{ waiting: number }[]>`
        select count(*)::int as waiting from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`;
      // One query: both requests wait on the same verification of their shared token.
      return waiting >= 1;
    }, 'the requests waiting on the lock');
    const started = Date.now();
    const shed = await call();
    assert.is(shed.status, 503);
    assert.ok(Date.now() - started < 500, 'answered at once');
    assert.is(shed.headers.get('retry-after'), '1');
    assert.is(((await shed.json()) as { error: { code: string } }).error.code, 'MCBSY');
    assert.is((await app.request('/healthz')).status, 200);
    await holder`rollback`;
    for (const answer of await Promise.all(blocked)) assert.is(answer.status, 200);
    assert.is((await call()).status, 200, 'served again once the work drained');
  } finally {
    await holder`rollback`.catch(() => undefined);
    holder.release();
  }
});

test('log lines: one after a quiet spell is written at once, those right after it together, none lost', async () => {
  const writes: string[] = [];
  // A long interval, so that a slow machine cannot make "right after" late.
  const interval = 500;
  const writer = gatheredWrites((lines) => writes.push(lines), interval);
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  writer.line('a\n');
  await turn();
  assert.equal(writes, ['a\n'], 'the first line goes out at the next turn');
  for (const line of ['b\n', 'c\n', 'd\n']) {
    writer.line(line);
    await turn();
  }
  assert.equal(writes, ['a\n'], 'lines within the interval after a write wait');
  await new Promise((resolve) => setTimeout(resolve, interval + 20));
  assert.equal(writes, ['a\n', 'b\nc\nd\n'], 'then go in one write');
  writer.line('e\n');
  writer.flush();
  assert.equal(writes.at(-1), 'e\n', 'flush() writes what waits');
  writer.line('x'.repeat(70_000));
  assert.is(writes.at(-1)?.length, 70_000, 'a burst past 64 KiB goes at once');
  await new Promise((resolve) => setTimeout(resolve, interval + 20));
  assert.is(writes.length, 4, 'nothing is written twice');
});

test('a server process logs one JSON line per request, with request and user ids, never the token', async () => {
  const server = await startServerProcess(t.db, {
    MICROCHATTER_JWT_SECRET: JWT_SECRET,
    MICROCHATTER_ADMIN_TOKEN: ADMIN_TOKEN,
    MICROCHATTER_METRICS_TOKEN: METRICS_TOKEN,
  });
  try {
    const { token } = await tokenExpiringIn('obs-1', 600);
    const answer = await fetch(`${server.url}/rpc/send_message`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'x-request-id': 'trace-me',
      },
      body: JSON.stringify({ recipient: 'obs-2', body: 'a secret message body' }),
    });
    assert.is(answer.status, 200);
    await waitFor(() => server.output().includes('"request_id":"trace-me"'), 'the request line');
    const line = server
      .output()
      .split('\n')
      .find((text) => text.includes('"request_id":"trace-me"'));
    const entry = JSON.parse(line ?? '{}') as Record<string, unknown>;
    assert.is(entry.msg, 'request');
    assert.is(entry.method, 'POST');
    assert.is(entry.route, '/rpc/send_message');
    assert.is(entry.status, 200);
    assert.is(entry.user_id, 'obs-1');
    assert.type(entry.ms, 'number');
    assert.not.match(server.output(), token);
    assert.not.match(server.output(), 'a secret message body');
    const metrics = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    const text = await metrics.text();
    assert.match(
      text,
      'microchatter_http_requests_total{method="POST",route="/rpc/send_message",status="200"} 1',
    );
    assert.match(text, 'microchatter_event_streams_open 0');
    assert.match(text, 'microchatter_db_pool_in_use');
    assert.match(text, 'microchatter_webhook_deliveries_pending 0');
    assert.match(text, 'microchatter_webhook_deliveries_failed 0');
  } finally {
    await server.stop();
  }
});

test.run();
