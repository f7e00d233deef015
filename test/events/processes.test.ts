/**
 * Two `server/main.ts` processes on one database: a message sent through one reaches streams held by
 * the other, a client resumes on either, and SIGTERM ends streams with `shutdown` and exits cleanly.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { ADMIN_TOKEN, JWT_SECRET } from '../helpers/http.ts';
import { type StreamClient, streamClient, tokenExpiringIn, waitFor } from '../helpers/realtime.ts';
import { type ServerProcess, startServerProcess } from '../helpers/server-process.ts';

const startServer = (db: TestDatabase) =>
  startServerProcess(db, {
    MICROCHATTER_JWT_SECRET: JWT_SECRET,
    MICROCHATTER_ADMIN_TOKEN: ADMIN_TOKEN,
    MICROCHATTER_SEND_RATE_PER_MINUTE: '0',
    // EventSource clients come back quickly after `shutdown` or a cut.
    MICROCHATTER_SSE_RETRY_MS: '100',
  });

const test = suite('events: several server processes');
let db: TestDatabase;
let a: ServerProcess;
let b: ServerProcess;
const tokens = new Map<string, string>();
const clients: StreamClient[] = [];

test.before(async () => {
  db = await freshDatabase({ max: 1 });
  [a, b] = await Promise.all([startServer(db), startServer(db)]);
  const imported = await fetch(`${a.url}/admin/rpc/import_users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ users: ['ann', 'ben', 'cat'].map((user_id) => ({ user_id })) }),
  });
  assert.is(imported.status, 200, await imported.text());
  for (const user of ['ann', 'ben', 'cat']) tokens.set(user, (await tokenExpiringIn(user, 600)).token);
});

test.after(async () => {
  for (const client of clients) client.close();
  await Promise.all([a?.stop(), b?.stop()]);
  await db?.drop();
});

const token = (user: string) => tokens.get(user) ?? '';

async function send(server: ServerProcess, from: string, to: string, body: string): Promise<void> {
  const response = await fetch(`${server.url}/rpc/send_message`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token(from)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ recipient: to, body }),
  });
  assert.is(response.status, 200, await response.text());
}

async function stream(server: ServerProcess, user: string, after?: string): Promise<StreamClient> {
  const query = after ? `?last_event_id=${encodeURIComponent(after)}` : '';
  const client = await streamClient(`${server.url}/events${query}`, {
    authorization: `Bearer ${token(user)}`,
  });
  clients.push(client);
  return client;
}

const messages = (client: StreamClient, n: number) =>
  client.until((events) => events.filter((e) => e.type === 'message.created').length >= n, 10_000);
const lastMessageId = (client: StreamClient) =>
  client.events.filter((e) => e.type === 'message.created').at(-1)?.id ?? '';

test('a message sent through process A reaches a stream on process B; resuming on A gets exactly what was missed', async () => {
  const onB = await stream(b, 'ben');
  await send(a, 'ann', 'ben', 'via A, seen on B');
  await messages(onB, 1);
  assert.equal(onB.bodies(), ['via A, seen on B']);
  const cursor = lastMessageId(onB);
  onB.close();

  const missed = ['missed 1', 'missed 2', 'missed 3', 'missed 4'];
  for (const body of missed) await send(a, 'ann', 'ben', body);
  const onA = await stream(a, 'ben', cursor);
  await send(b, 'ann', 'ben', 'live via B');
  await messages(onA, 5);
  assert.equal(onA.bodies(), [...missed, 'live via B']);
  const ids = onA.events.filter((e) => e.type !== 'ready').map((e) => e.id);
  assert.is(new Set(ids).size, ids.length, 'no event twice');
  onA.close();
});

test('SIGTERM with open streams: `shutdown`, exit 0 within 5 s; the client resumes on the other process without loss', async () => {
  const cat = await stream(a, 'cat');
  const catAgain = await stream(a, 'cat');
  await send(b, 'ann', 'cat', 'before the restart');
  await messages(cat, 1);
  await messages(catAgain, 1);

  const started = Date.now();
  const exitCode = a.stop();
  await cat.until((events) => events.some((e) => e.type === 'shutdown'), 5000);
  await catAgain.until((events) => events.some((e) => e.type === 'shutdown'), 5000);
  assert.is(await exitCode, 0, a.output());
  assert.ok(Date.now() - started < 5000, `exited after ${Date.now() - started} ms`);
  const shutdown = cat.events.find((e) => e.type === 'shutdown');
  assert.match(String(shutdown?.data.reason), /reconnect/);
  const cursor = lastMessageId(cat);
  cat.close();
  catAgain.close();

  // Process A is gone: its clients come back on B from their cursor.
  const refused = await fetch(`${a.url}/healthz`).then(
    () => false,
    () => true,
  );
  assert.ok(refused, 'process A no longer answers');
  const missed = ['while A was down 1', 'while A was down 2', 'while A was down 3'];
  for (const body of missed) await send(b, 'ann', 'cat', body);
  const onB = await stream(b, 'cat', cursor);
  await send(b, 'ben', 'cat', 'live on B');
  await messages(onB, 4);
  assert.equal(onB.bodies(), [...missed, 'live on B']);
  const ids = onB.events.filter((e) => e.type !== 'ready').map((e) => e.id);
  assert.is(new Set(ids).size, ids.length, 'no event twice');
  onB.close();
});

test('neither process printed a token', async () => {
  await waitFor(() => a.output().length > 0 && b.output().length > 0, 'process output');
  for (const server of [a, b]) {
    for (const [user, value] of tokens)
      assert.not.ok(server.output().includes(value), `${user}'s token printed`);
    assert.not.ok(server.output().includes(ADMIN_TOKEN), 'the admin token printed');
  }
});

test.run();
