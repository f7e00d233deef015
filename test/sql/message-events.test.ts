/** message.updated and message.deleted: written by trigger at commit, in commit order, resumable. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createUsers, sendIn } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('sql: events of messages that change');
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase();
  await createUsers(db.sql, 'ann', 'ben', 'cat', 'dan');
});
test.after(async () => db.drop());

interface EventRow {
  position: number;
  type: string;
  recipients: string[];
  payload: { conversation_id: number; message: Record<string, unknown> };
}

const latest = async () => {
  const [row] = await db.sql`select chat_server.latest_event_position() as position`;
  return row?.position as number;
};
const readAfter = (position: number) =>
  db.sql<EventRow[]>`select * from chat_server.read_events(${position})`;

test('edit, react, unreact and delete each write one event with the whole message', async () => {
  const [g] = await db.sql`select * from chat.create_group('ann', 'Club', array['ben', 'cat'])`;
  const id = g?.conversation_id;
  const { seq } = await sendIn(db.sql, 'ann', id, 'draft');
  const start = await latest();
  await db.sql`select chat.edit_message('ann', ${id}, ${seq}, 'final')`;
  await db.sql`select chat.edit_message('ann', ${id}, ${seq}, 'final')`; // no change, no event
  await db.sql`select chat.react('ben', ${id}, ${seq}, '👍')`;
  await db.sql`select chat.react('ben', ${id}, ${seq}, '👍')`; // no change, no event
  await db.sql`select chat.unreact('ben', ${id}, ${seq}, '👍')`;
  await db.sql`select chat.delete_message('ann', ${id}, ${seq})`;
  await db.sql`select chat.delete_message('ann', ${id}, ${seq})`; // no change, no event
  const events = await readAfter(start);
  assert.equal(
    events.map((e) => [e.type, e.recipients, e.payload.conversation_id, e.payload.message.seq]),
    [
      ['message.updated', ['ann', 'ben', 'cat'], id, Number(seq)],
      ['message.updated', ['ann', 'ben', 'cat'], id, Number(seq)],
      ['message.updated', ['ann', 'ben', 'cat'], id, Number(seq)],
      ['message.deleted', ['ann', 'ben', 'cat'], id, Number(seq)],
    ],
  );
  const [edited, reacted, unreacted, deleted] = events.map((e) => e.payload.message);
  assert.is(edited?.body, 'final');
  assert.ok(edited?.edited_at);
  assert.equal(reacted?.reactions, [{ emoji: '👍', count: 1, users: ['ben'] }]);
  assert.equal(unreacted?.reactions, []);
  assert.equal([deleted?.body, deleted?.attachments, Boolean(deleted?.deleted_at)], ['', [], true]);
  // The same keys as list_messages returns.
  const [listed] = await db.sql`select * from chat.list_messages('ben', ${id}) where seq = ${seq}`;
  assert.equal(Object.keys(deleted ?? {}).sort(), Object.keys(listed ?? {}).sort());
});

test('members who cannot see the message, and former members, are not told', async () => {
  const [g] = await db.sql`select * from chat.create_group('ann', 'Later', array['ben', 'cat'])`;
  const id = g?.conversation_id;
  const { seq } = await sendIn(db.sql, 'ann', id, 'before dan');
  await db.sql`select chat.add_members('ann', ${id}, array['dan'])`;
  await db.sql`select chat.remove_member('ann', ${id}, 'cat')`;
  await db.sql`select chat.delete_conversation('ben', ${id})`;
  const start = await latest();
  await db.sql`select chat.edit_message('ann', ${id}, ${seq}, 'edited before dan')`;
  const [event] = await readAfter(start);
  assert.equal(event?.recipients, ['ann']);
});

test('a stream resumes the changes in commit order', async () => {
  const [g] = await db.sql`select * from chat.create_group('ann', 'Resume', array['ben'])`;
  const id = g?.conversation_id;
  const { seq } = await sendIn(db.sql, 'ann', id, 'one');
  const cursor = await latest();
  await db.sql`select chat.react('ann', ${id}, ${seq}, '🙂')`;
  await db.sql`select chat.edit_message('ann', ${id}, ${seq}, 'one, edited')`;
  await sendIn(db.sql, 'ben', id, 'two');
  await db.sql`select chat.delete_message('ann', ${id}, ${seq})`;
  const events = await db.sql<EventRow[]>`select * from chat_server.user_events('ben', ${cursor})`;
  assert.equal(
    events.map((e) => e.type),
    ['message.updated', 'message.updated', 'message.created', 'message.deleted'],
  );
  const positions = events.map((e) => e.position);
  assert.equal(
    positions,
    [...positions].sort((a, b) => a - b),
  );
  // Resuming after the second gets the rest exactly once.
  const rest = await db.sql<EventRow[]>`select * from chat_server.user_events('ben', ${positions[1]})`;
  assert.equal(
    rest.map((e) => e.position),
    positions.slice(2),
  );
});

test('concurrent reactions write their events in commit order, each with the count it left', async () => {
  const users = Array.from({ length: 10 }, (_, i) => `r${i}`);
  await db.sql`select chat_admin.import_users(${db.sql.json(users.map((user_id) => ({ user_id })))})`;
  const [g] = await db.sql`select * from chat.create_group('ann', 'Race', ${users})`;
  const { seq } = await sendIn(db.sql, 'ann', g?.conversation_id, 'race');
  const start = await latest();
  await Promise.all(users.map((u) => db.sql`select chat.react(${u}, ${g?.conversation_id}, ${seq}, '🏁')`));
  const counts = (await readAfter(start)).map(
    (e) => (e.payload.message.reactions as { count: number }[])[0]?.count,
  );
  assert.equal(
    counts,
    users.map((_, i) => i + 1),
  );
});

test.run();
