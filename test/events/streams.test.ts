import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type RealtimeServer, realtimeServer, type StreamClient } from '../helpers/realtime.ts';

const test = suite('events: streams');
let s: RealtimeServer;

test.before(async () => {
  s = await realtimeServer();
  await s.call('admin', '/admin/rpc/import_users', {
    users: ['ann', 'ben', 'cat', 'dan', 'eve'].map((user_id) => ({ user_id })),
  });
});
test.after(async () => s.close());

const messages = (client: StreamClient, n: number) =>
  client.until((events) => events.filter((e) => e.type === 'message.created').length >= n);

test("a message reaches every device of every member, the sender's other devices too, and nobody else", async () => {
  const annPhone = await s.stream('ann');
  const annLaptop = await s.stream('ann');
  const benPhone = await s.stream('ben');
  const stranger = await s.stream('eve');
  const sent = await s.rpc('ann', 'send_message', { recipient: 'ben', body: 'to all my devices' });
  for (const client of [annPhone, annLaptop, benPhone]) {
    await messages(client, 1);
    const event = client.events.find((e) => e.type === 'message.created');
    assert.equal(event?.data.message, sent);
    assert.is(event?.data.conversation_id, sent.conversation_id);
  }
  // The conversation's creation came first, with the same cursor order everywhere.
  assert.equal(
    benPhone.events.filter((e) => e.type !== 'ready').map((e) => e.type),
    ['conversation.created', 'message.created'],
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.is(stranger.events.filter((e) => e.type !== 'ready').length, 0);
});

test('order within a conversation is the send order', async () => {
  const [group] = [await s.rpc('cat', 'create_group', { title: 'Order', members: ['dan'] })];
  const dan = await s.stream('dan');
  const bodies = Array.from({ length: 30 }, (_, i) => `m${i}`);
  // Concurrent senders: the stream must follow seq, whatever order the requests finish in.
  await Promise.all(
    bodies.map((body, i) =>
      s.rpc(i % 2 ? 'cat' : 'dan', 'send_message', { conversation_id: group?.conversation_id, body }),
    ),
  );
  await messages(dan, 30);
  const seqs = dan.events
    .filter((e) => e.type === 'message.created')
    .map((e) => (e.data.message as { seq: number }).seq);
  assert.equal(
    seqs,
    Array.from({ length: 30 }, (_, i) => i + 1),
    JSON.stringify(
      dan.events.map((e) => [e.id, e.type, (e.data.message as { seq: number } | undefined)?.seq]),
    ),
  );
});

test('resume after a drop: everything sent meanwhile, once, in order', async () => {
  const first = await s.stream('ben');
  await s.rpc('ann', 'send_message', { recipient: 'ben', body: 'before the drop' });
  await messages(first, 1);
  const cursor = first.lastEventId();
  first.close();
  const missed = Array.from({ length: 12 }, (_, i) => `missed ${i}`);
  for (const body of missed) await s.rpc('ann', 'send_message', { recipient: 'ben', body });
  const resumed = await s.stream('ben', { after: cursor });
  await s.rpc('ann', 'send_message', { recipient: 'ben', body: 'live again' });
  await messages(resumed, 13);
  assert.equal(resumed.bodies(), [...missed, 'live again']);
  // Every event has its own id (`ready` repeats the last one: it says "caught up to here").
  const ids = resumed.events.filter((e) => e.type !== 'ready').map((e) => e.id);
  assert.is(new Set(ids).size, ids.length, 'no event twice');
});

test('EventSource reconnects by itself with Last-Event-ID when the server drops it', async () => {
  const client = await s.stream('cat');
  await s.rpc('ben', 'send_message', { recipient: 'cat', body: 'one' });
  await messages(client, 1);
  // Cut every stream of cat's on the server side.
  s.realtime.hub.endAll();
  for (const body of ['two', 'three']) await s.rpc('ben', 'send_message', { recipient: 'cat', body });
  await messages(client, 3);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(
    client.bodies(),
    ['one', 'two', 'three'],
    JSON.stringify(client.events.map((e) => [e.type, e.id])),
  );
});

test('bodies cannot forge frames', async () => {
  const client = await s.stream('dan');
  const body = 'hi\n\nid: 999-999\nevent: conversation.deleted\ndata: {"conversation_id": 1}\n\nretry: 1';
  await s.rpc('eve', 'send_message', { recipient: 'dan', body });
  await messages(client, 1);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(client.bodies(), [body]);
  assert.not.ok(client.events.some((e) => e.type === 'conversation.deleted' || e.id === '999-999'));
});

test('an unknown or expired cursor gets a reset event, then live events', async () => {
  const client = await s.stream('eve', { after: 'not-a-cursor' });
  assert.is(client.events[0]?.type, 'reset');
  await s.rpc('dan', 'send_message', { recipient: 'eve', body: 'after reset' });
  await messages(client, 1);
  const future = await s.stream('eve', { after: '999999999999' });
  assert.is(future.events[0]?.type, 'reset');
});

test('read receipts, deletions and group changes arrive as events', async () => {
  const ann = await s.stream('ann');
  const ben = await s.stream('ben');
  const sent = await s.rpc('ann', 'send_message', { recipient: 'ben', body: 'read me' });
  await s.rpc('ben', 'mark_read', { conversation_id: sent.conversation_id });
  const read = (await ann.until((e) => e.some((x) => x.type === 'conversation.read'))).find(
    (e) => e.type === 'conversation.read',
  );
  const { read_at, ...receipt } = read?.data ?? {};
  assert.equal(receipt, { conversation_id: sent.conversation_id, user: 'ben', read_seq: sent.seq });
  assert.ok(Date.parse(String(read_at)) > 0, 'conversation.read says when');
  await s.rpc('ben', 'delete_conversation', { conversation_id: sent.conversation_id });
  await ben.until((e) => e.some((x) => x.type === 'conversation.deleted'));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.not.ok(
    ann.events.some((e) => e.type === 'conversation.deleted'),
    'deleting is for me only',
  );
});

test.run();
