/**
 * The group inbox reads a group's activity from its conversation row: a group send writes no member's
 * row but the sender's, and the inbox still orders, pages, hides and counts exactly. Also the opt-in
 * microchatter.send_synchronous_commit.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createUsers, sendIn, sendTo } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('sql: group inbox from the conversation row');
let db: TestDatabase;

interface Row {
  conversation_id: string;
  kind: string;
  unread: string;
  cursor: string;
}
const inbox = async (actor: string, limit = 20, before: string | null = null) =>
  db.sql<Row[]>`select * from chat.list_conversations(${actor}, before => ${before}, "limit" => ${limit})`;
const ids = (rows: Row[]) => rows.map((r) => Number(r.conversation_id));
const group = async (owner: string, title: string, members: string[]) => {
  const [g] = await db.sql`select * from chat.create_group(${owner}, ${title}, ${members})`;
  return Number(g?.conversation_id);
};

test.before(async () => {
  db = await freshDatabase();
});
test.after(async () => db.drop());

test("a group send writes the sender's membership row only", async () => {
  await createUsers(db.sql, 'w1', 'w2', 'w3', 'w4');
  const id = await group('w1', 'Quiet rows', ['w2', 'w3', 'w4']);
  const rows = () =>
    db.sql`select user_id, xmin::text as version from chat_private.memberships where conversation_id = ${id} order by user_id`;
  const before = await rows();
  await sendIn(db.sql, 'w2', id, 'hello all');
  const after = await rows();
  const changed = after.filter((r, i) => r.version !== before[i]?.version).map((r) => r.user_id);
  assert.equal(changed, ['w2']);
  const [w3] = await db.sql`select unread from chat.get_conversation('w3', ${id})`;
  assert.is(Number(w3?.unread), 1);
  const [w2] = await db.sql`select unread from chat.get_conversation('w2', ${id})`;
  assert.is(Number(w2?.unread), 0);
});

test('groups and direct chats interleave by activity, and keyset pages cover each exactly once', async () => {
  await createUsers(db.sql, 'mix', 'p1', 'p2', 'p3', 'p4');
  const made: number[] = [];
  for (let i = 0; i < 12; i++) {
    if (i % 3 === 0) made.push(await group('p1', `g${i}`, ['mix', 'p2']));
    else made.push(Number((await sendTo(db.sql, `p${1 + (i % 4)}`, 'mix', `d${i}`)).conversation_id));
  }
  const conversations = [...new Set(made)];
  // Activity in a shuffled order: the newest activity decides, whether a group's or a direct chat's.
  const order = [...conversations].sort((a, b) => ((a * 7) % 11) - ((b * 7) % 11));
  for (const id of order) {
    const [c] = await db.sql`select kind from chat_private.conversations where conversation_id = ${id}`;
    await sendIn(db.sql, c?.kind === 'group' ? 'p2' : 'mix', id, 'bump');
  }
  const expected = [...order].reverse();
  assert.equal(ids(await inbox('mix', 50)), expected);
  const paged: number[] = [];
  let cursor: string | null = null;
  for (;;) {
    const page = await inbox('mix', 2, cursor);
    if (page.length === 0) break;
    paged.push(...ids(page));
    cursor = page[page.length - 1]?.cursor ?? null;
  }
  assert.equal(paged, expected);
});

test('a deleted group comes back with the next message, and deleting it again is an event again', async () => {
  await createUsers(db.sql, 'h1', 'h2');
  const id = await group('h1', 'Comes back', ['h2']);
  await sendIn(db.sql, 'h1', id, 'one');
  await db.sql`select chat.delete_conversation('h2', ${id})`;
  assert.not.ok(ids(await inbox('h2')).includes(id));
  const [quiet] = await db.sql`select * from chat.unread_count('h2')`;
  assert.is(Number(quiet?.total), 0);
  await sendIn(db.sql, 'h1', id, 'two');
  const [back] = (await inbox('h2')).filter((r) => Number(r.conversation_id) === id);
  assert.ok(back);
  assert.is(Number(back.unread), 1);
  const [counted] = await db.sql`select * from chat.unread_count('h2')`;
  assert.is(Number(counted?.total), 1);
  const [position] = await db.sql`select chat_server.latest_event_position() as p`;
  await db.sql`select chat.delete_conversation('h2', ${id})`;
  assert.not.ok(ids(await inbox('h2')).includes(id));
  const events = await db.sql`select type, recipients from chat_server.read_events(${position?.p})`;
  assert.equal(
    events.map((e) => [e.type, e.recipients]),
    [['conversation.deleted', ['h2']]],
  );
  // Deleting with nothing new changes nothing and says nothing.
  await db.sql`select chat.delete_conversation('h2', ${id})`;
  assert.is((await db.sql`select * from chat_server.read_events(${position?.p})`).length, 1);
  const [view] = await db.sql`select last_message from chat.get_conversation('h2', ${id})`;
  assert.is(view?.last_message, null);
});

test('a member who leaves keeps the group where its last message put it; a muted group counts apart', async () => {
  await createUsers(db.sql, 'l1', 'l2', 'l3');
  const left = await group('l1', 'Left behind', ['l2']);
  await sendIn(db.sql, 'l1', left, 'before leaving');
  const direct = Number((await sendTo(db.sql, 'l3', 'l2', 'a direct message')).conversation_id);
  await db.sql`select chat.leave_conversation('l2', ${left})`;
  await sendIn(db.sql, 'l1', left, 'after leaving');
  const page = await inbox('l2');
  assert.equal(ids(page), [direct, left]);
  const [gone] = page.filter((r) => Number(r.conversation_id) === left);
  assert.is(Number(gone?.unread), 1); // what they saw: one message, not the one after
  const [counts] = await db.sql`select * from chat.unread_count('l2')`;
  assert.is(Number(counts?.total), 2);

  const muted = await group('l1', 'Muted', ['l2']);
  await sendIn(db.sql, 'l1', muted, 'shh');
  await db.sql`select chat.set_muted('l2', ${muted})`;
  const [after] = await db.sql`select * from chat.unread_count('l2')`;
  assert.is(Number(after?.total), 2);
  assert.ok(after?.conversations.some((c: { conversation_id: number; muted: boolean }) => c.muted));
  assert.is(ids(await inbox('l2'))[0], muted);
});

test('a member added later sorts the group at their joining until a newer message', async () => {
  await createUsers(db.sql, 'j1', 'j2', 'j3');
  const id = await group('j1', 'Joined late', []);
  await sendIn(db.sql, 'j1', id, 'old news');
  const direct = Number((await sendTo(db.sql, 'j3', 'j2', 'in between')).conversation_id);
  await db.sql`select chat.add_members('j1', ${id}, array['j2'])`;
  assert.equal(ids(await inbox('j2')), [id, direct]);
  const [view] = await db.sql`select unread, last_message from chat.get_conversation('j2', ${id})`;
  assert.is(Number(view?.unread), 0);
  assert.is(view?.last_message, null);
  await sendIn(db.sql, 'j3', direct, 'newer');
  assert.equal(ids(await inbox('j2')), [direct, id]);
});

test('microchatter.send_synchronous_commit = off makes sends skip the flush wait, and only sends', async () => {
  await createUsers(db.sql, 's1', 's2');
  const id = await group('s1', 'Fast', ['s2']);
  const inTransaction = (setting: string | null, send: string) =>
    db.sql.begin(async (tx) => {
      // Durable to begin with, whatever the test cluster's default.
      await tx`set local synchronous_commit = on`;
      if (setting !== null)
        await tx`select set_config('microchatter.send_synchronous_commit', ${setting}, true)`;
      if (send === 'single') await tx`select chat.send_message('s1', conversation_id => ${id}, body => 'x')`;
      if (send === 'batch')
        await tx`select chat_server.send_messages(${tx.json([{ actor: 's1', conversation_id: id, body: 'y' }])})`;
      if (send === 'read') await tx`select * from chat.list_conversations('s1')`;
      const [row] = await tx`select current_setting('synchronous_commit') as value`;
      return row?.value as string;
    });
  assert.is(await inTransaction('off', 'single'), 'off');
  assert.is(await inTransaction('off', 'batch'), 'off');
  assert.is(await inTransaction('off', 'read'), 'on');
  assert.is(await inTransaction(null, 'single'), 'on');
  assert.is(await inTransaction('on', 'batch'), 'on');
  assert.is(await inTransaction('yes please', 'single'), 'on');
  // Local to the send's transaction: the session keeps its own setting afterwards.
  const [session] = await db.sql`select current_setting('synchronous_commit') as value`;
  await inTransaction('off', 'single');
  const [after] = await db.sql`select current_setting('synchronous_commit') as value`;
  assert.is(after?.value, session?.value);
});

test.run();
