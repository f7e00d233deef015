import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createUsers, expectCode, sendIn, sendTo } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('sql: the event log');
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase({ max: 6 });
  await createUsers(db.sql, 'ann', 'ben', 'cat');
});
test.after(async () => db.drop());

interface EventRow {
  position: number;
  type: string;
  recipients: string[];
  payload: Record<string, unknown>;
}

const latest = async () => {
  const [{ position }] = await db.sql`select chat_server.latest_event_position() as position`;
  return position as number;
};
const readAfter = (position: number) =>
  db.sql<EventRow[]>`select * from chat_server.read_events(${position})`;
const userEvents = (user: string, position: number | string) =>
  db.sql<EventRow[]>`select * from chat_server.user_events(${user}, ${position})`;

test('each change writes its event, for the members at that moment', async () => {
  const start = await latest();
  const first = await sendTo(db.sql, 'ann', 'ben', 'hello');
  const id = first.conversation_id;
  await db.sql`select chat.mark_read('ben', ${id})`;
  const [group] = await db.sql`select * from chat.create_group('ann', 'Club', array['ben', 'cat'])`;
  await db.sql`select chat.rename_conversation('ann', ${group?.conversation_id}, 'Club 2')`;
  await db.sql`select chat.remove_member('ann', ${group?.conversation_id}, 'cat')`;
  await sendIn(db.sql, 'ben', group?.conversation_id, 'cat is gone');
  await db.sql`select chat.delete_conversation('ben', ${id})`;

  const events = await readAfter(start);
  assert.equal(
    events.map((e) => [e.type, e.recipients]),
    [
      ['conversation.created', ['ann', 'ben']],
      ['message.created', ['ann', 'ben']],
      ['conversation.read', ['ann', 'ben']],
      ['conversation.created', ['ann', 'ben', 'cat']],
      ['conversation.updated', ['ann', 'ben', 'cat']],
      ['conversation.updated', ['ann', 'ben', 'cat']],
      ['message.created', ['ann', 'ben']],
      ['conversation.deleted', ['ben']],
    ],
  );
  const message = events[1]?.payload.message as Record<string, unknown>;
  assert.equal(
    [message.id, message.seq, message.sender, message.body],
    [Number(first.id), 1, 'ann', 'hello'],
  );
  const { read_at, ...read } = events[2]?.payload ?? {};
  assert.equal(read, { conversation_id: Number(id), user: 'ben', read_seq: 1 });
  assert.ok(Date.parse(String(read_at)) > 0, 'conversation.read says when');
  assert.equal(events[5]?.payload.members, ['ann', 'ben']);
  // The removed member hears of the removal, and of nothing after it.
  assert.equal(
    (await userEvents('cat', start)).map((e) => e.type),
    ['conversation.created', 'conversation.updated', 'conversation.updated'],
  );
  // A refused change writes nothing.
  const before = await latest();
  await expectCode(
    db.sql`select chat.send_message('cat', conversation_id => ${group?.conversation_id}, body => 'x')`,
    'MCNMB',
  );
  assert.is((await readAfter(before)).length, 0);
});

test('one NOTIFY per transaction, carrying only the transaction id', async () => {
  const payloads: string[] = [];
  const listener = await db.sql.listen('microchatter_events', (payload) => payloads.push(payload));
  try {
    await db.sql.begin(async (sql) => {
      await sql`select chat.send_message('ann', recipient => 'cat', body => 'one')`;
      await sql`select chat.send_message('ann', recipient => 'cat', body => 'two')`;
      await sql`select chat.send_message('cat', recipient => 'ann', body => 'three')`;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.is(payloads.length, 1);
    assert.match(payloads[0] ?? '', /^\d+$/);
  } finally {
    await listener.unlisten();
  }
});

test('positions follow commit order: a transaction that started first but commits last is not skipped', async () => {
  const start = await latest();
  const early = await db.sql.reserve();
  try {
    await early`begin`;
    await early`select chat.send_message('ann', recipient => 'ben', body => 'started first, commits last')`;
    await sendTo(db.sql, 'ben', 'cat', 'started last, commits first');
    // The open transaction holds up nobody: what has committed is readable now.
    const committed = await readAfter(start);
    assert.equal(
      committed
        .filter((e) => e.type === 'message.created')
        .map((e) => (e.payload.message as { body: string }).body),
      ['started last, commits first'],
    );
    const reader = committed[committed.length - 1]?.position ?? start;
    await early`commit`;
    // A reader that already went past the first commit still gets the late one: it has a larger position.
    const rest = await readAfter(reader);
    assert.equal(
      rest
        .filter((e) => e.type === 'message.created')
        .map((e) => (e.payload.message as { body: string }).body),
      ['started first, commits last'],
    );
    const positions = (await readAfter(start)).map((e) => e.position);
    assert.equal(
      positions,
      [...positions].sort((a, b) => a - b),
    );
  } finally {
    early.release();
  }
});

test('within a conversation, events follow seq even when senders race', async () => {
  const [group] = await db.sql`select * from chat.create_group('ann', 'Race', array['ben', 'cat'])`;
  const start = await latest();
  await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      sendIn(db.sql, ['ann', 'ben', 'cat'][i % 3] ?? 'ann', group?.conversation_id, `race ${i}`),
    ),
  );
  const seqs = (await readAfter(start))
    .filter((e) => e.type === 'message.created')
    .map((e) => (e.payload.message as { seq: number }).seq);
  assert.equal(
    seqs,
    Array.from({ length: 40 }, (_, i) => i + 1),
  );
});

test('pruning cuts the log; older cursors get MCRST, current ones carry on', async () => {
  const old = await latest();
  await sendTo(db.sql, 'ann', 'ben', 'before the cut');
  const [{ deleted }] = await db.sql`select chat_server.prune_events('0 seconds') as deleted`;
  assert.ok(Number(deleted) > 0);
  await expectCode(userEvents('ben', old), 'MCRST');
  await expectCode(userEvents('ben', 0), 'MCRST');
  await expectCode(userEvents('ben', 99_999_999_999), 'MCRST');
  const current = await latest();
  await sendTo(db.sql, 'ann', 'ben', 'after the cut');
  assert.equal(
    (await userEvents('ben', current)).map((e) => e.type),
    ['message.created'],
  );
});

test('stream tickets are single use and expire', async () => {
  const [issued] = await db.sql`select * from chat_server.create_stream_ticket('ann')`;
  const ticket = String(issued?.ticket);
  assert.match(ticket, /^[0-9a-f]{64}$/);
  const first = await db.sql`select * from chat_server.redeem_stream_ticket(${ticket})`;
  assert.equal(
    first.map((r) => r.user_id),
    ['ann'],
  );
  assert.is((await db.sql`select * from chat_server.redeem_stream_ticket(${ticket})`).length, 0);
  const [short] =
    await db.sql`select * from chat_server.create_stream_ticket('ann', valid_for => '10 milliseconds')`;
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.is(
    (await db.sql`select * from chat_server.redeem_stream_ticket(${String(short?.ticket)})`).length,
    0,
  );
  // Never longer than 60 seconds.
  const [long] = await db.sql`
    select expires_at <= now() + interval '60 seconds' as ok
    from chat_server.create_stream_ticket('ann', valid_for => '1 day')`;
  assert.is(long?.ok, true);
  await expectCode(db.sql`select chat_server.create_stream_ticket('nobody')`, 'MCUNU');
});

test.run();
