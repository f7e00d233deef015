import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createUsers, seqs } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('sql: concurrency');
let db: TestDatabase;

test.before(async () => {
  // Enough connections that the calls below really run at the same time.
  db = await freshDatabase({ max: 50 });
});
test.after(async () => db.drop());

test('100 concurrent first messages between one pair make one conversation', async () => {
  const { sql } = db;
  await createUsers(sql, 'racer1', 'racer2');
  const sends = Array.from({ length: 100 }, (_, i) =>
    i % 2
      ? sql`select * from chat.send_message('racer1', recipient => 'racer2', body => ${`r1 ${i}`})`
      : sql`select * from chat.send_message('racer2', recipient => 'racer1', body => ${`r2 ${i}`})`,
  );
  const results = await Promise.all(sends);
  const conversationIds = new Set(results.map(([m]) => m?.conversation_id));
  assert.is(conversationIds.size, 1);
  const [{ count }] = await sql`select count(*)::int from chat_private.conversations where kind = 'direct'`;
  assert.is(count, 1);
  const [id] = conversationIds;
  const all = await sql`select * from chat.list_messages('racer1', ${id}, "limit" => 200)`;
  assert.equal(
    seqs(all),
    Array.from({ length: 100 }, (_, i) => 100 - i),
  );
});

test('50 concurrent senders in one conversation get seq 1..N with no gap or duplicate, in commit order', async () => {
  const { sql } = db;
  const senders = Array.from({ length: 50 }, (_, i) => `sender${i}`);
  await sql`select chat_admin.import_users(${sql.json(senders.map((user_id) => ({ user_id })))})`;
  const [group] = await sql`select * from chat.create_group('sender0', 'Busy', ${senders})`;
  const id = group?.conversation_id;
  const perSender = 4;
  await Promise.all(
    senders.map(async (sender) => {
      for (let k = 0; k < perSender; k++) {
        await sql`select chat.send_message(${sender}, conversation_id => ${id}, body => ${`${sender} #${k}`})`;
      }
    }),
  );
  const n = senders.length * perSender;
  const rows = await sql`
    select seq, sender, body, message_id from chat_private.messages where conversation_id = ${id} order by seq`;
  assert.equal(
    seqs(rows),
    Array.from({ length: n }, (_, i) => i + 1),
  );
  // Each sender's own messages keep their send order.
  for (const sender of senders) {
    const own = rows.filter((r) => r.sender === sender).map((r) => r.body);
    assert.equal(
      own,
      Array.from({ length: perSender }, (_, k) => `${sender} #${k}`),
    );
  }
  const [conversation] =
    await sql`select last_seq from chat_private.conversations where conversation_id = ${id}`;
  assert.is(Number(conversation?.last_seq), n);
  // Every member but each sender's own share is unread; totals add up exactly.
  const [counts] = await sql`select * from chat.unread_count('sender1')`;
  assert.ok(Number(counts?.total) <= n - 1);
});

test.run();
