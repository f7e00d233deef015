import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createUsers, expectCode, onOwnSession, sendIn, sendTo, seqs } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('sql: sending and reading messages');
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase();
  await createUsers(db.sql, 'alice', 'bob', 'carol');
});
test.after(async () => db.drop());

test('the first message to a user starts a direct chat; later ones continue it with the next seq', async () => {
  const first = await sendTo(db.sql, 'alice', 'bob', 'hi bob');
  const reply = await sendTo(db.sql, 'bob', 'alice', 'hi alice');
  const third = await sendIn(db.sql, 'alice', first.conversation_id, 'how are you?');
  assert.is(reply.conversation_id, first.conversation_id);
  assert.is(third.conversation_id, first.conversation_id);
  assert.equal([first.seq, reply.seq, third.seq].map(Number), [1, 2, 3]);
  assert.is(reply.sender, 'bob');
  assert.is(third.body, 'how are you?');
});

test('a retry with the same client_id returns the original message and stores nothing new', async () => {
  const send = () => db.sql`
    select * from chat.send_message('alice', recipient => 'carol', body => 'once', client_id => 'c-1')`;
  const [a] = await send();
  const [b] = await send();
  assert.equal(b, a);
  const [{ count }] = await db.sql`
    select count(*)::int from chat_private.messages where conversation_id = ${a?.conversation_id}`;
  assert.is(count, 1);
  // The same client_id from the other member is a different message.
  const [c] = await db.sql`
    select * from chat.send_message('carol', recipient => 'alice', body => 'mine', client_id => 'c-1')`;
  assert.is.not(c?.id, a?.id);
});

test('refusals: empty or too long body, bad target, strangers', async () => {
  const { sql } = db;
  await expectCode(sql`select chat.send_message('alice', recipient => 'bob', body => '')`, 'MCEMB');
  await expectCode(sql`select chat.send_message('alice', recipient => 'bob', body => ${' \n\t '})`, 'MCEMB');
  await expectCode(sql`select chat.send_message('alice', recipient => 'bob')`, 'MCEMB');
  await expectCode(
    sql`select chat.send_message('alice', recipient => 'bob', body => ${'x'.repeat(4001)})`,
    'MCLNG',
  );
  await sendTo(sql, 'alice', 'bob', 'x'.repeat(4000));
  await expectCode(sql`select chat.send_message('alice', body => 'to nobody')`, 'MCARG');
  const [{ conversation_id }] =
    await sql`select conversation_id from chat.send_message('alice', recipient => 'bob', body => 'x')`;
  await expectCode(
    sql`select chat.send_message('alice', recipient => 'bob', conversation_id => ${conversation_id}, body => 'both')`,
    'MCARG',
  );
  await expectCode(sql`select chat.send_message('alice', recipient => 'nobody', body => 'hello?')`, 'MCUNU');
  await expectCode(sql`select chat.send_message('ghost', recipient => 'bob', body => 'boo')`, 'MCUNU');
  await expectCode(sql`select chat.send_message('alice', recipient => 'alice', body => 'me')`, 'MCSLF');
  await expectCode(
    sql`select chat.send_message('alice', conversation_id => 999999, body => 'void')`,
    'MCNCV',
  );
  await expectCode(
    sql`select chat.send_message('carol', conversation_id => ${conversation_id}, body => 'let me in')`,
    'MCNMB',
  );
  await expectCode(sql`select * from chat.list_messages('carol', ${conversation_id})`, 'MCNMB');
  await expectCode(sql`select * from chat.get_conversation('carol', ${conversation_id})`, 'MCNMB');
  await expectCode(sql`select * from chat.mark_read('carol', ${conversation_id})`, 'MCNMB');
  await expectCode(sql`select * from chat.delete_conversation('carol', ${conversation_id})`, 'MCNMB');
});

test('the body limit is a setting a DBA can change', async () => {
  await onOwnSession(db.sql, async (sql) => {
    await sql`set microchatter.max_body_length = 10`;
    await expectCode(
      sql`select chat.send_message('alice', recipient => 'bob', body => 'eleven chars')`,
      'MCLNG',
    );
  });
});

test('list_messages pages newest first by seq, within bounds', async () => {
  const { sql } = db;
  await createUsers(sql, 'pager', 'reader');
  let conversationId = '';
  for (let i = 1; i <= 120; i++) {
    const message = await sendTo(sql, i % 2 ? 'pager' : 'reader', i % 2 ? 'reader' : 'pager', `message ${i}`);
    conversationId = message.conversation_id;
  }
  const newest = await sql`select * from chat.list_messages('reader', ${conversationId})`;
  assert.equal(
    seqs(newest),
    Array.from({ length: 50 }, (_, i) => 120 - i),
  );
  assert.is(newest[0]?.body, 'message 120');

  const older = await sql`select * from chat.list_messages('reader', ${conversationId}, before_seq => 71)`;
  assert.equal(
    seqs(older),
    Array.from({ length: 50 }, (_, i) => 70 - i),
  );
  const oldest = await sql`select * from chat.list_messages('reader', ${conversationId}, before_seq => 21)`;
  assert.equal(
    seqs(oldest),
    Array.from({ length: 20 }, (_, i) => 20 - i),
  );
  const none = await sql`select * from chat.list_messages('reader', ${conversationId}, before_seq => 1)`;
  assert.is(none.length, 0);

  const after =
    await sql`select * from chat.list_messages('reader', ${conversationId}, after_seq => 10, "limit" => 5)`;
  assert.equal(seqs(after), [15, 14, 13, 12, 11]);
  const between = await sql`
    select * from chat.list_messages('reader', ${conversationId}, before_seq => 100, after_seq => 90)`;
  assert.equal(seqs(between), [99, 98, 97, 96, 95, 94, 93, 92, 91]);
  const caughtUp = await sql`select * from chat.list_messages('reader', ${conversationId}, after_seq => 120)`;
  assert.is(caughtUp.length, 0);

  const all = await sql`select * from chat.list_messages('reader', ${conversationId}, "limit" => 200)`;
  assert.is(all.length, 120);
  await expectCode(sql`select * from chat.list_messages('reader', ${conversationId}, "limit" => 0)`, 'MCLIM');
  await expectCode(
    sql`select * from chat.list_messages('reader', ${conversationId}, "limit" => 201)`,
    'MCLIM',
  );
  await expectCode(sql`select * from chat.list_messages('reader', 999999)`, 'MCNCV');
  await expectCode(
    sql`select * from chat.list_messages('reader', ${conversationId}, before_seq => -1)`,
    'MCARG',
  );
  await expectCode(
    sql`select * from chat.list_messages('reader', ${conversationId}, after_seq => -5)`,
    'MCARG',
  );
});

test.run();
