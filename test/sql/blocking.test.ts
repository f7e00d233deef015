import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createUsers, expectCode, sendIn, sendTo, seqs } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('sql: blocking');
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase();
  await createUsers(db.sql, 'victim', 'pest', 'friend');
});
test.after(async () => db.drop());

const messageCount = async () => {
  const [{ count }] = await db.sql`select count(*)::int from chat_private.messages`;
  return count as number;
};

test('a blocked user cannot send direct messages to the blocker; nothing is stored', async () => {
  const { sql } = db;
  const first = await sendTo(sql, 'pest', 'victim', 'hello');
  await sql`select chat.block_user('victim', 'pest')`;
  await sql`select chat.block_user('victim', 'pest')`;
  const before = await messageCount();
  await expectCode(
    sql`select chat.send_message('pest', recipient => 'victim', body => 'let me talk')`,
    'MCBLK',
  );
  await expectCode(
    sql`select chat.send_message('pest', conversation_id => ${first.conversation_id}, body => 'please')`,
    'MCBLK',
  );
  // The blocker must unblock before writing to them.
  await expectCode(sql`select chat.send_message('victim', recipient => 'pest', body => 'go away')`, 'MCBLK');
  assert.is(await messageCount(), before);
  assert.equal(
    (await sql`select * from chat.list_blocked('victim')`).map((r) => [r.user_id, r.display_name]),
    [['pest', 'Pest']],
  );
});

test('a block before any chat stops the first message from creating one', async () => {
  const { sql } = db;
  await createUsers(sql, 'quiet', 'loud');
  await sql`select chat.block_user('quiet', 'loud')`;
  await expectCode(sql`select chat.send_message('loud', recipient => 'quiet', body => 'hi')`, 'MCBLK');
  const [{ count }] =
    await sql`select count(*)::int from chat_private.conversations where 'loud' = any(members)`;
  assert.is(count, 0);
});

test("the blocker's inbox hides the direct chat; unblocking brings it back with its history", async () => {
  const { sql } = db;
  await createUsers(sql, 'b1', 'b2');
  const m = await sendTo(sql, 'b2', 'b1', 'one');
  await sendTo(sql, 'b1', 'b2', 'two');
  await sql`select chat.block_user('b1', 'b2')`;
  assert.equal((await sql`select * from chat.list_conversations('b1')`).length, 0);
  // The blocked user still sees the chat; they just cannot write into it.
  assert.equal((await sql`select * from chat.list_conversations('b2')`).length, 1);
  await sql`select chat.unblock_user('b1', 'b2')`;
  await sql`select chat.unblock_user('b1', 'b2')`;
  const [back] = await sql`select * from chat.list_conversations('b1')`;
  assert.is(back?.conversation_id, m.conversation_id);
  assert.equal(seqs(await sql`select * from chat.list_messages('b1', ${m.conversation_id})`), [2, 1]);
  await sendTo(sql, 'b2', 'b1', 'three');
  assert.equal((await sql`select * from chat.list_blocked('b1')`).length, 0);
});

test("in groups, blocking keeps you out of the blocked user's new groups but not shared ones", async () => {
  const { sql } = db;
  const [group] = await sql`select * from chat.create_group('friend', 'Shared', array['victim', 'pest'])`;
  // Group messages from a blocked member still reach the blocker: the group is a shared space.
  await sendIn(sql, 'pest', group?.conversation_id, 'hi all');
  const [view] = await sql`select * from chat.get_conversation('victim', ${group?.conversation_id})`;
  assert.is(Number(view?.unread), 1);
  await expectCode(sql`select chat.create_group('pest', 'Trap', array['victim'])`, 'MCBLK');
  await expectCode(sql`select chat.block_user('victim', 'victim')`, 'MCSLF');
  await expectCode(sql`select chat.block_user('victim', 'nobody')`, 'MCUNU');
});

test.run();
