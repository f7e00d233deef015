/**
 * Migration 000010 (messages that change) carries over messages written before it: same ids and seqs,
 * never edited, not deleted, no reactions or attachments, searchable, and changeable from then on.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectDatabase, type Sql } from '../../server/db.ts';
import { applyMigrations } from '../../server/migrate.ts';
import { databaseBefore } from '../helpers/migrations.ts';

const test = suite('sql: migrating messages to 000010');
let before: Awaited<ReturnType<typeof databaseBefore>>;
let sql: Sql;
let direct: number;
let group: number;
let oldRows: { id: number; seq: number; body: string }[];

test.before(async () => {
  before = await databaseBefore('000010');
  sql = connectDatabase(before.url, { max: 2 });
  // Written through the API as it was: send_message's five-argument form.
  for (const user of ['ann', 'ben', 'cat']) await sql`select chat_admin.create_user(${user})`;
  const [first] = await sql`select * from chat.send_message('ann', 'ben', null, 'hello from before', null)`;
  direct = first?.conversation_id;
  await sql`select chat.send_message('ben', conversation_id => ${direct}, body => 'reply from before')`;
  const [g] = await sql`select * from chat.create_group('ann', 'Old club', array['ben', 'cat'])`;
  group = g?.conversation_id;
  await sql`select chat.send_message('cat', conversation_id => ${group}, body => 'cat was here')`;
  await sql`select chat.leave_conversation('cat', ${group})`;
  await sql`select chat.send_message('ann', conversation_id => ${group}, body => 'after cat left')`;
  oldRows = await sql`select message_id as id, seq, body from chat_private.messages order by message_id`;
  await sql.end();

  await applyMigrations(before.url);
  sql = connectDatabase(before.url, { max: 2 });
});
test.after(async () => {
  await sql.end();
  await before.drop();
});

test('messages keep their ids, seqs and bodies, and gain the new fields empty', async () => {
  const rows = await sql`select id, seq, body, edited_at, deleted_at, reply_to_seq, reactions, attachments
                         from chat.list_messages('ben', ${direct}) order by seq`;
  assert.equal(
    rows.map((r) => [r.id, r.seq, r.body]),
    oldRows
      .filter((r) => r.body !== 'cat was here' && r.body !== 'after cat left')
      .map((r) => [r.id, r.seq, r.body]),
  );
  for (const r of rows)
    assert.equal(
      [r.edited_at, r.deleted_at, r.reply_to_seq, r.reactions, r.attachments],
      [null, null, null, [], []],
    );
  const [inbox] =
    await sql`select last_message from chat.list_conversations('ann') where conversation_id = ${direct}`;
  assert.equal(inbox?.last_message.reactions, []);
});

test('old messages are found by search, by what each member could see', async () => {
  const found = await sql`select body from chat.search_messages('ann', 'before')`;
  assert.equal(
    found.map((r) => r.body),
    ['reply from before', 'hello from before'],
  );
  assert.equal(
    (await sql`select body from chat.search_messages('cat', 'cat')`).map((r) => r.body),
    ['cat was here'],
  );
  assert.is((await sql`select * from chat.search_messages('cat', 'left')`).length, 0);
});

test('old messages can be edited, reacted to, replied to and deleted', async () => {
  await sql`select chat.edit_message('ann', ${direct}, 1, 'hello, edited')`;
  await sql`select chat.react('ben', ${direct}, 1, '👍')`;
  const [reply] =
    await sql`select * from chat.send_message('ben', conversation_id => ${direct}, body => 'yes', reply_to_seq => 1)`;
  assert.is(reply?.reply_to_seq, 1);
  await sql`select chat.delete_message('ben', ${direct}, 2)`;
  const rows =
    await sql`select seq, body, reactions, deleted_at from chat.list_messages('ann', ${direct}) order by seq`;
  assert.equal(
    rows.map((r) => [r.seq, r.body, r.reactions.length, Boolean(r.deleted_at)]),
    [
      [1, 'hello, edited', 1, false],
      [2, '', 0, true],
      [3, 'yes', 0, false],
    ],
  );
  // The old five-argument signature is gone: one send_message.
  const [{ count }] = await sql`select count(*)::int from pg_proc where proname = 'send_message'`;
  assert.is(count, 1);
});

test.run();
