/** The UI helpers against a real server: inbox and history iterators, and the conversation store. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  type ChatEvent,
  createClient,
  createConversationStore,
  type Message,
  type Subscription,
} from '../../client/src/index.ts';
import { type RealtimeServer, realtimeServer, waitFor } from '../helpers/realtime.ts';

let t: RealtimeServer;
const subscriptions: Subscription[] = [];
test.before(async () => {
  t = await realtimeServer();
});
test.after(async () => {
  for (const s of subscriptions) s.close();
  await t.close();
});

/** A client that counts its requests. */
function counted(user: string) {
  const seen = { requests: 0 };
  const client = createClient({
    baseUrl: t.url,
    token: () => t.tokenFor(user),
    fetch: (input, init) => {
      seen.requests++;
      return fetch(input, init);
    },
  });
  return { client, seen };
}

test('inbox() pages through every conversation, most recent first, a page at a time', async () => {
  const peers = ['p1', 'p2', 'p3', 'p4', 'p5'].map((p) => `inbox-${p}`);
  await t.rpc('inbox-me', 'me');
  for (const peer of peers)
    await t.rpc(peer, 'send_message', { recipient: 'inbox-me', body: `from ${peer}` });
  const { client, seen } = counted('inbox-me');
  const titles: (string | null)[] = [];
  for await (const c of client.inbox({ pageSize: 2 })) titles.push(c.peer);
  assert.equal(titles, [...peers].reverse());
  assert.is(seen.requests, 3, 'pages of 2, 2 and 1');

  const pages: number[] = [];
  for await (const page of client.inbox({ pageSize: 2 }).pages()) pages.push(page.length);
  assert.equal(pages, [2, 2, 1]);

  seen.requests = 0;
  for await (const c of client.inbox({ pageSize: 2 })) {
    assert.is(c.peer, peers[4]);
    break;
  }
  assert.is(seen.requests, 1, 'stopping early fetches no further page');
});

test('history() walks a conversation back to its first message with before_seq', async () => {
  await t.rpc('hist-b', 'me');
  const first = await t.rpc('hist-a', 'send_message', { recipient: 'hist-b', body: 'm1' });
  for (let i = 2; i <= 7; i++) {
    await t.rpc(i % 2 ? 'hist-a' : 'hist-b', 'send_message', {
      conversation_id: first.conversation_id,
      body: `m${i}`,
    });
  }
  const { client, seen } = counted('hist-b');
  const seqs: (number | null)[] = [];
  for await (const m of client.history(first.conversation_id as number, { pageSize: 3 })) seqs.push(m.seq);
  assert.equal(seqs, [7, 6, 5, 4, 3, 2, 1]);
  assert.is(seen.requests, 3);
  const older: (number | null)[] = [];
  for await (const m of client.history(first.conversation_id as number, { pageSize: 3, beforeSeq: 3 }))
    older.push(m.seq);
  assert.equal(older, [2, 1]);
});

test('the store applies live events: new messages, unread, read receipts, membership changes', async () => {
  const me = 'store-me';
  const peer = 'store-peer';
  const client = createClient({ baseUrl: t.url, token: () => t.tokenFor(me) });
  await client.me();
  const store = createConversationStore({ me });
  const changes: (number | undefined)[] = [];
  store.subscribe((c) => changes.push(c.conversation_id));
  const events: ChatEvent[] = [];
  subscriptions.push(
    client.events({
      onEvent: (e) => {
        events.push(e);
        store.apply(e);
      },
    }),
  );
  await waitFor(() => events.some((e) => e.type === 'ready'), 'ready');

  const sent = await t.rpc(peer, 'send_message', { recipient: me, body: 'hello' });
  const id = sent.conversation_id as number;
  await waitFor(() => store.messages(id).length === 1, 'the message in the store');
  assert.is(store.conversation(id)?.kind, 'direct');
  assert.is(store.conversation(id)?.peer, peer);
  assert.is(store.conversation(id)?.unread, 1);
  assert.is(store.conversation(id)?.last_message?.body, 'hello');
  assert.ok(changes.includes(id));

  // Loading the inbox afterwards replaces the summary; the same event again changes nothing.
  store.putConversations(await client.list_conversations());
  assert.is(store.conversation(id)?.title, peer, 'the direct chat is titled with the peer');
  const again = events.find((e) => e.type === 'message.created');
  if (again) store.apply(again);
  assert.is(store.conversation(id)?.unread, 1, 'idempotent');
  assert.is(store.messages(id).length, 1);

  const mine = await client.send_message({ conversation_id: id, body: 'hi back' });
  await waitFor(() => store.messages(id).length === 2, 'my own message');
  assert.is(store.conversation(id)?.unread, 0, 'replying reads the conversation');
  assert.is(store.conversation(id)?.last_seq, mine.seq);

  await t.rpc(peer, 'mark_read', { conversation_id: id });
  await waitFor(() => store.readPositions(id).get(peer) === 2, "the peer's read receipt");

  const group = await client.create_group({ title: 'Store group', members: [peer] });
  const groupId = group.conversation_id as number;
  await waitFor(() => store.conversation(groupId)?.title === 'Store group', 'the new group');
  await client.rename_conversation({ conversation_id: groupId, title: 'Renamed' });
  await waitFor(() => store.conversation(groupId)?.title === 'Renamed', 'the rename');
  assert.equal(
    store.conversations().map((c) => c.conversation_id),
    [groupId, id],
    'inbox order: most recent activity first',
  );
  // Edits, reactions and deletions for everyone arrive as message.updated / message.deleted.
  await t.rpc(peer, 'edit_message', { conversation_id: id, seq: 1, body: 'hello (edited)' });
  await t.rpc(peer, 'react', { conversation_id: id, seq: 1, emoji: '👍' });
  await waitFor(() => (store.messages(id)[0]?.reactions?.length ?? 0) === 1, 'the reaction');
  const edited = store.messages(id)[0];
  assert.is(edited?.body, 'hello (edited)');
  assert.ok(edited?.edited_at);
  assert.equal(edited?.reactions, [{ emoji: '👍', count: 1, users: [peer] }]);
  await client.delete_message({ conversation_id: id, seq: 2 });
  await waitFor(() => Boolean(store.messages(id)[1]?.deleted_at), 'the tombstone');
  assert.is(store.messages(id).length, 2);
  assert.ok(events.some((e) => e.type === 'message.deleted'));
  assert.ok(events.some((e) => e.type === 'message.updated'));

  await client.delete_conversation({ conversation_id: id });
  await waitFor(() => store.conversation(id) === undefined, 'deleted on this device');
  store.dispose();
});

const message = (seq: number, extra: Partial<Message> = {}): Message => ({
  id: seq,
  conversation_id: 9,
  seq,
  sender: 'bob',
  body: `m${seq}`,
  client_id: null,
  sent_at: new Date(1_700_000_000_000 + seq * 1000).toISOString(),
  edited_at: null,
  deleted_at: null,
  reply_to_seq: null,
  reactions: [],
  attachments: [],
  ...extra,
});

test('the store applies edits, deletions and typing with expiry', async () => {
  let clock = 1_000_000;
  const store = createConversationStore({ me: 'alice', now: () => clock, typingTimeoutMs: 50 });
  store.putMessages(9, [message(1), message(2)]);
  store.apply({
    type: 'message.updated',
    id: '5',
    data: { conversation_id: 9, message: message(2, { body: 'edited' }) },
  });
  assert.equal(
    store.messages(9).map((m) => m.body),
    ['m1', 'edited'],
  );
  store.apply({
    type: 'message.deleted',
    id: '6',
    data: { conversation_id: 9, message: message(1, { body: '', deleted_at: '2026-01-01T00:00:00Z' }) },
  });
  assert.is(store.messages(9)[0]?.deleted_at, '2026-01-01T00:00:00Z');
  assert.is(store.messages(9).length, 2, 'a tombstone keeps its place');

  const expires = new Date(clock + 6000).toISOString();
  store.apply({
    type: 'typing',
    id: undefined,
    data: { conversation_id: 9, user: 'bob', typing: true, expires_at: expires },
  });
  store.apply({ type: 'typing', id: undefined, data: { conversation_id: 9, user: 'alice', typing: true } });
  assert.equal(store.typing(9), ['bob'], 'yourself excluded');
  clock += 7000;
  assert.equal(store.typing(9), [], 'expired by its expires_at');

  // Without expires_at the timeout applies, and the store tells its listeners when it runs out.
  clock = Date.now();
  const woken: (number | undefined)[] = [];
  store.subscribe((c) => woken.push(c.conversation_id));
  store.apply({ type: 'typing', id: undefined, data: { conversation_id: 9, user: 'carol', typing: true } });
  assert.equal(store.typing(9), ['carol']);
  clock += 100;
  await waitFor(() => woken.length >= 2, 'the expiry notice', 2000);
  assert.equal(store.typing(9), []);

  store.apply({ type: 'typing', id: undefined, data: { conversation_id: 9, user: 'bob', typing: true } });
  store.apply({ type: 'message.created', id: '7', data: { conversation_id: 9, message: message(3) } });
  assert.equal(store.typing(9), [], 'a message ends its sender’s typing');

  store.apply({ type: 'presence.changed', id: '8', data: { user: 'bob', online: true, last_seen_at: null } });
  assert.is(store.online('bob'), true);
  store.clear();
  assert.equal(store.conversations(), []);
  store.dispose();
});

test.run();
