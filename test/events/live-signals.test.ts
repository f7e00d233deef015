/**
 * Typing and presence across two (and a killed third) `server/main.ts` processes on one database, seen
 * on real SSE streams: typing crosses processes, expires, is throttled and never replayed; presence goes
 * online and offline within its bounds, survives flapping, and a SIGKILLed process's users go offline;
 * privacy settings and blocks hide both.
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
    MICROCHATTER_SSE_RETRY_MS: '100',
    MICROCHATTER_PRESENCE_GRACE_MS: '1000',
    MICROCHATTER_PRESENCE_LEASE_MS: '3000',
  });

const test = suite('events: typing and presence across processes');
let db: TestDatabase;
let a: ServerProcess;
let b: ServerProcess;
const USERS = ['ann', 'ben', 'cat', 'dan', 'eve'];
const tokens = new Map<string, string>();
const clients: StreamClient[] = [];

interface Signal {
  type: string;
  id: string;
  data: Record<string, unknown>;
  at: number;
}
/** A stream plus the ephemeral and presence frames the shared helper does not collect. */
interface SignalStream extends StreamClient {
  signals: Signal[];
}

const token = (user: string) => tokens.get(user) ?? '';

async function rpc(server: ServerProcess, user: string, name: string, body: unknown): Promise<Response> {
  return fetch(`${server.url}/rpc/${name}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token(user)}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}
async function ok(response: Promise<Response>): Promise<unknown> {
  const r = await response;
  const text = await r.text();
  assert.is(r.status, 200, text);
  return JSON.parse(text);
}

async function stream(server: ServerProcess, user: string, after?: string): Promise<SignalStream> {
  const query = after ? `?last_event_id=${encodeURIComponent(after)}` : '';
  const client = (await streamClient(`${server.url}/events${query}`, {
    authorization: `Bearer ${token(user)}`,
  })) as SignalStream;
  client.signals = [];
  for (const type of ['typing', 'presence.changed']) {
    client.source.addEventListener(type, (event) => {
      client.signals.push({ type, id: event.lastEventId, data: JSON.parse(event.data), at: Date.now() });
    });
  }
  clients.push(client);
  return client;
}
const signals = (client: SignalStream, type: string, user?: string) =>
  client.signals.filter((s) => s.type === type && (user === undefined || s.data.user === user));

let conversations: Record<string, number> = {};

test.before(async () => {
  db = await freshDatabase({ max: 1 });
  [a, b] = await Promise.all([startServer(db), startServer(db)]);
  const imported = await fetch(`${a.url}/admin/rpc/import_users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ users: USERS.map((user_id) => ({ user_id })) }),
  });
  assert.is(imported.status, 200, await imported.text());
  for (const user of USERS) tokens.set(user, (await tokenExpiringIn(user, 600)).token);
  conversations = {};
  for (const peer of ['ann', 'cat', 'dan', 'eve']) {
    const message = (await ok(rpc(a, peer, 'send_message', { recipient: 'ben', body: 'hi' }))) as {
      conversation_id: number;
    };
    conversations[peer] = message.conversation_id;
  }
});

test.after(async () => {
  for (const client of clients) client.close();
  await Promise.all([a?.stop(), b?.stop()]);
  await db?.drop();
});

test('typing on process A reaches B, is throttled, expires, ends with the message and is never replayed', async () => {
  const ben = await stream(b, 'ben');
  const conversation_id = conversations.ann;
  const answers = [];
  for (let i = 0; i < 5; i++) answers.push(await ok(rpc(a, 'ann', 'set_typing', { conversation_id })));
  assert.equal(answers, [true, false, false, false, false]);
  await waitFor(() => signals(ben, 'typing').length >= 1, 'typing on B');
  await new Promise((resolve) => setTimeout(resolve, 300));
  const [first, ...rest] = signals(ben, 'typing');
  assert.equal(rest, [], 'one forwarded per 2 s');
  assert.equal(
    [first?.data.conversation_id, first?.data.user, first?.data.typing],
    [conversation_id, 'ann', true],
  );
  const expiresIn = Date.parse(String(first?.data.expires_at)) - Date.now();
  assert.ok(expiresIn > 4000 && expiresIn <= 6000, `expires in ${expiresIn} ms`);

  await ok(rpc(a, 'ann', 'send_message', { conversation_id, body: 'done typing' }));
  await waitFor(() => signals(ben, 'typing').length >= 2, 'typing ended by the message');
  assert.equal(signals(ben, 'typing')[1]?.data.typing, false);

  // Resume from before the typing: the replay holds the message, no typing.
  const cursor = ben.events.find((e) => e.type === 'ready')?.id ?? '';
  ben.close();
  const resumed = await stream(a, 'ben', cursor);
  await resumed.until((events) => events.some((e) => e.type === 'message.created'));
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(signals(resumed, 'typing'), []);
  resumed.close();
});

test('presence: online across processes, flapping is quiet, offline within 5 s of the last stream', async () => {
  const ben = await stream(b, 'ben');
  const ann = await stream(a, 'ann');
  await waitFor(() => signals(ben, 'presence.changed', 'ann').length >= 1, 'ann online');
  assert.equal(signals(ben, 'presence.changed', 'ann')[0]?.data, {
    user: 'ann',
    online: true,
    last_seen_at: null,
  });
  assert.ok(signals(ben, 'presence.changed', 'ann')[0]?.id, 'presence.changed is a logged event');
  const seen = (await ok(rpc(b, 'ben', 'get_presence', { users: ['ann', 'cat'] }))) as Record<
    string,
    unknown
  >[];
  assert.equal(
    seen.map((p) => [p.user, p.online]),
    [
      ['ann', true],
      ['cat', false],
    ],
  );

  // A phone reconnecting every 300 ms, to either process: no event.
  ann.close();
  for (let i = 0; i < 4; i++) {
    const again = await stream(i % 2 ? a : b, 'ann');
    await new Promise((resolve) => setTimeout(resolve, 300));
    again.close();
  }
  const closedAt = Date.now();
  await waitFor(() => signals(ben, 'presence.changed', 'ann').length >= 2, 'ann offline', 6000);
  const offline = signals(ben, 'presence.changed', 'ann');
  assert.is(offline.length, 2, 'no event per reconnect');
  assert.is(offline[1]?.data.online, false);
  assert.ok(offline[1]?.data.last_seen_at);
  assert.ok((offline[1]?.at ?? 0) - closedAt < 5000);
  ben.close();
});

test('a killed process leaves no one online: a surviving process expires its leases', async () => {
  const c = await startServer(db);
  try {
    const ben = await stream(b, 'ben');
    await stream(c, 'cat');
    await waitFor(() => signals(ben, 'presence.changed', 'cat').length >= 1, 'cat online');
    c.child.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor(() => signals(ben, 'presence.changed', 'cat').length >= 2, 'cat offline', 15_000);
    assert.is(signals(ben, 'presence.changed', 'cat')[1]?.data.online, false);
    assert.ok(Date.now() - killedAt < 60_000);
    ben.close();
  } finally {
    await c.stop();
  }
});

test('privacy and blocking hide typing and presence from every path', async () => {
  await ok(rpc(a, 'dan', 'update_settings', { share_presence: false }));
  assert.is((await rpc(a, 'eve', 'block_user', { user: 'ben' })).status, 204);
  const ben = await stream(b, 'ben');
  const dan = await stream(a, 'dan');
  const eve = await stream(a, 'eve');
  const refused = await rpc(a, 'eve', 'set_typing', { conversation_id: conversations.eve });
  assert.is(refused.status, 403);
  assert.is(((await refused.json()) as { error: { code: string } }).error.code, 'MCBLK');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(signals(ben, 'presence.changed', 'dan'), []);
  assert.equal(signals(ben, 'presence.changed', 'eve'), []);
  const seen = (await ok(rpc(b, 'ben', 'get_presence', { users: ['dan', 'eve'] }))) as Record<
    string,
    unknown
  >[];
  assert.equal(
    seen.map((p) => [p.user, p.online, p.last_seen_at]),
    [
      ['dan', false, null],
      ['eve', false, null],
    ],
  );
  const tooMany = await rpc(b, 'ben', 'get_presence', {
    users: Array.from({ length: 101 }, (_, i) => `u${i}`),
  });
  assert.is(tooMany.status, 400);
  dan.close();
  eve.close();
  ben.close();
});

test.run();
