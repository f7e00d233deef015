/**
 * Streams under trouble: the relay's LISTEN connection killed mid-traffic, a transaction that commits
 * long after others (out of id order), heartbeats on quiet streams, and a client that stops reading.
 */
import { connect } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type RealtimeServer, realtimeServer, type StreamClient, waitFor } from '../helpers/realtime.ts';

const test = suite('events: resilience');
let s: RealtimeServer;

test.before(async () => {
  s = await realtimeServer({
    // A fast backstop, quick heartbeats and a small buffer bound: 256 KB, not the 16 KB minimum, which
    // one relay read of a few big messages, written in one go, passes even for a client that reads.
    MICROCHATTER_EVENT_POLL_MS: '200',
    MICROCHATTER_SSE_HEARTBEAT_MS: '100',
    MICROCHATTER_SSE_MAX_BUFFER: '262144',
  });
  await s.call('admin', '/admin/rpc/import_users', {
    users: ['ann', 'ben', 'cat', 'dan', 'eve', 'fay', 'gus', 'ivy'].map((user_id) => ({ user_id })),
  });
});
test.after(async () => s.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const messages = (client: StreamClient, n: number, timeoutMs = 15_000) =>
  client.until((events) => events.filter((e) => e.type === 'message.created').length >= n, timeoutMs);
const messageIds = (client: StreamClient) =>
  client.events.filter((e) => e.type === 'message.created').map((e) => e.id);

/** Pids of this database's LISTEN connections (the relay's). */
const listeners = async () =>
  (
    await s.db.sql<{ pid: number }[]>`
      select pid from pg_stat_activity
      where query ilike 'listen%' and datname = current_database() and pid <> pg_backend_pid()`
  ).map((row) => row.pid);

test('the LISTEN connection killed while messages are sent: all of them arrive, once, in order', async () => {
  const ben = await s.stream('ben');
  const before = await listeners();
  assert.ok(before.length >= 1, 'the relay listens');
  const bodies = Array.from({ length: 20 }, (_, i) => `during the outage ${i}`);
  for (const [i, body] of bodies.entries()) {
    if (i === 10) {
      const killed = await s.db.sql<{ terminated: boolean }[]>`
        select pg_terminate_backend(pid) as terminated from pg_stat_activity
        where query ilike 'listen%' and datname = current_database()`;
      assert.ok(
        killed.filter((row) => row.terminated).length >= 1,
        'at least one LISTEN connection terminated',
      );
    }
    await s.rpc('ann', 'send_message', { recipient: 'ben', body });
    await sleep(50);
  }
  await messages(ben, 20);
  assert.equal(ben.bodies(), bodies);
  assert.is(new Set(messageIds(ben)).size, 20, 'no event twice');
  // The relay came back on a new connection.
  await waitFor(async () => (await listeners()).some((pid) => !before.includes(pid)), 'a new LISTEN');
  await s.rpc('ann', 'send_message', { recipient: 'ben', body: 'after the outage' });
  await messages(ben, 21);
  assert.equal(ben.bodies(), [...bodies, 'after the outage']);
  assert.is(ben.events.filter((e) => e.type === 'ready').length, 1, 'the stream itself was never cut');
  ben.close();
});

test('a transaction held open while others commit: its message arrives at commit, nothing skipped or doubled', async () => {
  // X: cat ↔ dan; Y: a group of eve and dan. dan is in both.
  const x = await s.rpc('cat', 'send_message', { recipient: 'dan', body: 'x0' });
  const y = await s.rpc('eve', 'create_group', { title: 'Y', members: ['dan'] });
  const dan = await s.stream('dan');
  const held = await s.db.sql.reserve();
  try {
    await held`begin`;
    await held`select chat.send_message('cat', conversation_id => ${x.conversation_id as number}, body => 'held')`;
    for (const body of ['y1', 'y2', 'y3'])
      await s.rpc('eve', 'send_message', { conversation_id: y.conversation_id, body });
    await messages(dan, 3);
    assert.equal(dan.bodies(), ['y1', 'y2', 'y3']);
    const cursor = dan.lastEventId();
    await held`commit`;
    await messages(dan, 4);
    assert.equal(dan.bodies(), ['y1', 'y2', 'y3', 'held']);

    // Resuming from before the held message arrived yields it, and only it.
    const resumed = await s.stream('dan', { after: cursor });
    await messages(resumed, 1);
    await s.rpc('eve', 'send_message', { conversation_id: y.conversation_id, body: 'y4' });
    await messages(resumed, 2);
    await messages(dan, 5);
    assert.equal(resumed.bodies(), ['held', 'y4']);
    assert.equal(dan.bodies(), ['y1', 'y2', 'y3', 'held', 'y4']);
    for (const client of [dan, resumed]) {
      const ids = client.events.filter((e) => e.type !== 'ready').map((e) => Number(e.id));
      assert.equal(
        ids,
        [...ids].sort((a, b) => a - b),
        'cursors only go up',
      );
      assert.is(new Set(ids).size, ids.length, 'no event twice');
    }
    resumed.close();
  } finally {
    await held`rollback`.catch(() => undefined);
    held.release();
    dan.close();
  }
});

test('a quiet stream gets a retry hint and heartbeat comments', async () => {
  const controller = new AbortController();
  const started = Date.now();
  const response = await fetch(`${s.url}/events`, {
    headers: { authorization: `Bearer ${await s.tokenFor('fay')}` },
    signal: controller.signal,
  });
  assert.is(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = response.body?.getReader();
  assert.ok(reader);
  const decoder = new TextDecoder();
  let text = '';
  const heartbeats = () => text.split('\n\n').filter((frame) => frame === ':').length;
  try {
    const deadline = setTimeout(() => controller.abort(), 3000);
    while (heartbeats() < 3) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    clearTimeout(deadline);
  } catch (error) {
    assert.unreachable(`no 3 heartbeats within 3 s (${String(error)}); got ${JSON.stringify(text)}`);
  } finally {
    controller.abort();
  }
  assert.ok(Date.now() - started < 3000);
  assert.match(text, /^retry: \d+\n\n/m);
  assert.ok(heartbeats() >= 3, JSON.stringify(text));
});

/**
 * A raw socket that asks for the user's stream and never reads, next to an EventSource for the same
 * user; 400 messages of ~16 KB, in parallel batches of 10, each sent once the reading client has the
 * previous one, so that only the non-reader's backlog grows.
 */
async function slowConsumer(user: string) {
  const fast = await s.stream(user);
  const token = await s.tokenFor(user);
  const { hostname: host, port } = new URL(s.url);
  const slow = connect({ host: host.replace(/^\[|\]$/g, ''), port: Number(port) });
  slow.on('error', () => undefined);
  try {
    await new Promise<void>((resolve, reject) => {
      slow.once('connect', resolve);
      slow.once('error', reject);
    });
    slow.write(
      `GET /events HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n` +
        `Authorization: Bearer ${token}\r\n\r\n`,
    );
    slow.pause();
    await waitFor(() => s.realtime.hub.streamsOf(user) === 2, 'the slow stream to open');

    const [direct] = await s.db.sql<{ conversation_id: number }[]>`
      select conversation_id from chat.send_message('ann', recipient => ${user}, body => 'hello')`;
    assert.ok(direct);
    // ~16 KB each (4-byte characters, as many as a body may hold): 400 of them pass the ~4 MB that the
    // kernel's socket buffers take on loopback before the server's own buffer grows at all.
    const big = (i: number) => `${String(i).padStart(4, '0')} ${'😀'.repeat(3995)}`;
    // Parallel batches through SQL: the same events as over HTTP, far faster.
    for (let batch = 0; batch < 40; batch++) {
      await Promise.all(
        Array.from({ length: 10 }, (_, j) => {
          const i = batch * 10 + j;
          return s.db.sql`select 1 from chat.send_message('ann', conversation_id => ${direct.conversation_id},
            body => ${big(i)})`;
        }),
      );
      await messages(fast, batch * 10 + 11);
    }
    await waitFor(() => s.realtime.hub.streamsOf(user) === 1, 'the server to drop the slow stream', 15_000);
    await messages(fast, 401, 20_000);
    const bodies = fast.bodies();
    assert.is(bodies.length, 401);
    assert.is(bodies[0], 'hello');
    // Concurrent senders: the stream follows seq, so the order is the commit order, checked by seq.
    const seqs = fast.events
      .filter((e) => e.type === 'message.created')
      .map((e) => (e.data.message as { seq: number }).seq);
    assert.equal(
      seqs,
      Array.from({ length: 401 }, (_, i) => i + 1),
    );
    assert.equal(new Set(bodies.slice(1)).size, 400, 'all 400 different bodies');
    assert.is(fast.events.filter((e) => e.type === 'ready').length, 1, 'the reading client was never cut');
  } finally {
    slow.destroy();
    fast.close();
  }
}

test('a client that stops reading is dropped; another device of the same user keeps receiving all 400', () =>
  slowConsumer('gus'));

test('a resume with more than the buffer bound to replay completes, once, in order', async () => {
  const first = await s.stream('ivy');
  const [direct] = await s.db.sql<{ conversation_id: number }[]>`
    select conversation_id from chat.send_message('ann', recipient => 'ivy', body => 'before')`;
  assert.ok(direct);
  await messages(first, 1);
  const cursor = first.lastEventId();
  first.close();
  const missed = Array.from({ length: 300 }, (_, i) => `${String(i).padStart(3, '0')} ${'y'.repeat(2996)}`);
  for (const body of missed)
    await s.db
      .sql`select 1 from chat.send_message('ann', conversation_id => ${direct.conversation_id}, body => ${body})`;
  const resumed = await s.stream('ivy', { after: cursor });
  await messages(resumed, 300);
  assert.equal(resumed.bodies(), missed);
  assert.is(resumed.events.filter((e) => e.type === 'ready').length, 1);
  resumed.close();
});

test.run();
