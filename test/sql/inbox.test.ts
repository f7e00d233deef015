import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createUsers, expectCode, sendIn, sendTo, seqs } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('sql: inbox, unread counts, read positions, deletion');
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase();
});
test.after(async () => db.drop());

interface InboxRow {
  conversation_id: string;
  kind: string;
  title: string;
  peer: string | null;
  members: string[];
  unread: string;
  last_message: { body: string; sender: string; seq: number } | null;
  cursor: string;
}

const inbox = (actor: string, limit = 20, before: string | null = null) =>
  db.sql<InboxRow[]>`select * from chat.list_conversations(${actor}, ${before}, ${limit})`;

const totalUnread = async (actor: string) => {
  const [row] = await db.sql`select * from chat.unread_count(${actor})`;
  return Number(row?.total);
};

test('newest activity first, each with title, last message and unread count', async () => {
  await createUsers(db.sql, 'ann', 'ben', 'cat');
  await sendTo(db.sql, 'ben', 'ann', 'from ben');
  await sendTo(db.sql, 'cat', 'ann', 'from cat 1');
  await sendTo(db.sql, 'cat', 'ann', 'from cat 2');
  const rows = await inbox('ann');
  assert.equal(
    rows.map((r) => r.peer),
    ['cat', 'ben'],
  );
  assert.equal(
    rows.map((r) => r.title),
    ['Cat', 'Ben'],
  );
  assert.equal(
    rows.map((r) => Number(r.unread)),
    [2, 1],
  );
  assert.is(rows[0]?.kind, 'direct');
  assert.is(rows[0]?.last_message?.body, 'from cat 2');
  assert.is(rows[0]?.last_message?.sender, 'cat');
  // Ben's reply moves his chat to the top.
  await sendTo(db.sql, 'ben', 'ann', 'ben again');
  assert.equal(
    (await inbox('ann')).map((r) => r.peer),
    ['ben', 'cat'],
  );
  assert.is(await totalUnread('ann'), 4);
  // The sender has read their own messages.
  assert.equal(
    (await inbox('cat')).map((r) => Number(r.unread)),
    [0],
  );
});

test('unread math across send, read, delete and block never drifts', async () => {
  const { sql } = db;
  await createUsers(sql, 'u1', 'u2');
  const m1 = await sendTo(sql, 'u1', 'u2', 'one');
  await sendTo(sql, 'u1', 'u2', 'two');
  await sendTo(sql, 'u1', 'u2', 'three');
  const id = m1.conversation_id;
  assert.is(await totalUnread('u2'), 3);
  const [afterRead] = await sql`select * from chat.mark_read('u2', ${id}, 2)`;
  assert.is(Number(afterRead?.unread), 1);
  // Reading never moves backwards.
  await sql`select chat.mark_read('u2', ${id}, 1)`;
  assert.is(await totalUnread('u2'), 1);
  // A seq beyond the end reads everything there is, and no more.
  await sql`select chat.mark_read('u2', ${id}, 1000)`;
  assert.is(await totalUnread('u2'), 0);
  await sendTo(sql, 'u1', 'u2', 'four');
  assert.is(await totalUnread('u2'), 1);
  // Replying reads the chat for the replier.
  await sendTo(sql, 'u2', 'u1', 'reply');
  assert.is(await totalUnread('u2'), 0);
  assert.is(await totalUnread('u1'), 1);
  // Deleting clears unread; a new message counts from there.
  await sql`select chat.delete_conversation('u1', ${id})`;
  assert.is(await totalUnread('u1'), 0);
  await sendTo(sql, 'u2', 'u1', 'after delete');
  assert.is(await totalUnread('u1'), 1);
  // Blocking hides the chat and its unread; unblocking brings both back.
  await sql`select chat.block_user('u1', 'u2')`;
  assert.is(await totalUnread('u1'), 0);
  await sql`select chat.unblock_user('u1', 'u2')`;
  assert.is(await totalUnread('u1'), 1);
  await sql`select chat.mark_read('u1', ${id})`;
  assert.is(await totalUnread('u1'), 0);
  await expectCode(sql`select chat.mark_read('u1', ${id}, -1)`, 'MCARG');
});

test('muted conversations count per conversation but not in the total', async () => {
  const { sql } = db;
  await createUsers(sql, 'mu1', 'mu2');
  const m = await sendTo(sql, 'mu1', 'mu2', 'psst');
  const [muted] = await sql`select * from chat.set_muted('mu2', ${m.conversation_id})`;
  assert.is(muted?.muted, true);
  const [counts] = await sql`select * from chat.unread_count('mu2')`;
  assert.is(Number(counts?.total), 0);
  assert.equal(counts?.conversations, [
    { conversation_id: Number(m.conversation_id), unread: 1, muted: true },
  ]);
  await sql`select chat.set_muted('mu2', ${m.conversation_id}, false)`;
  assert.is(await totalUnread('mu2'), 1);
});

test('a deleted chat leaves the inbox until a newer message, which is all it then shows', async () => {
  const { sql } = db;
  await createUsers(sql, 'del1', 'del2');
  const first = await sendTo(sql, 'del1', 'del2', 'old 1');
  await sendTo(sql, 'del2', 'del1', 'old 2');
  const id = first.conversation_id;
  await sql`select chat.delete_conversation('del1', ${id})`;
  assert.is((await inbox('del1')).length, 0);
  assert.is((await sql`select * from chat.list_messages('del1', ${id})`).length, 0);
  // The other member keeps everything.
  assert.equal(seqs(await sql`select * from chat.list_messages('del2', ${id})`), [2, 1]);
  const [deleted] = await sql`select * from chat.get_conversation('del1', ${id})`;
  assert.is(deleted?.last_message, null);

  await sendTo(sql, 'del2', 'del1', 'new');
  const [back] = await inbox('del1');
  assert.is(back?.conversation_id, id);
  assert.is(back?.last_message?.body, 'new');
  assert.is(Number(back?.unread), 1);
  const visible = await sql`select * from chat.list_messages('del1', ${id})`;
  assert.equal(seqs(visible), [3]);
  assert.is((await sql`select * from chat.list_messages('del1', ${id}, after_seq => 0)`).length, 1);
});

test('keyset pages cover every conversation exactly once, also with equal activity times', async () => {
  const { sql } = db;
  await createUsers(sql, 'hub');
  const peers = Array.from({ length: 45 }, (_, i) => `peer${i}`);
  await sql`select chat_admin.import_users(${sql.json(peers.map((user_id) => ({ user_id })))})`;
  for (const peer of peers) await sendTo(sql, peer, 'hub', `hello from ${peer}`);
  // Ten conversations share one activity time: the cursor's conversation id breaks the tie.
  await sql`update chat_private.memberships set last_activity_at = '2026-01-01' where user_id = 'hub' and conversation_id in (
    select conversation_id from chat_private.memberships where user_id = 'hub' order by conversation_id limit 10)`;

  const seen: string[] = [];
  let cursor: string | null = null;
  for (;;) {
    const page = await inbox('hub', 7, cursor);
    if (page.length === 0) break;
    seen.push(...page.map((r) => r.peer ?? ''));
    cursor = page[page.length - 1]?.cursor ?? null;
  }
  assert.is(seen.length, 45);
  assert.equal([...seen].sort(), [...peers].sort());
  assert.is(seen[0], 'peer44');
  await expectCode(inbox('hub', 0), 'MCLIM');
  await expectCode(inbox('hub', 201), 'MCLIM');
  await expectCode(inbox('hub', 10, 'not-a-cursor'), 'MCARG');
});

test("get_conversation and mark_read answer with the member's view", async () => {
  const { sql } = db;
  await createUsers(sql, 'gc1', 'gc2');
  const m = await sendTo(sql, 'gc1', 'gc2', 'hey');
  await sendIn(sql, 'gc1', m.conversation_id, 'you there?');
  const [view] = await sql`select * from chat.get_conversation('gc2', ${m.conversation_id})`;
  assert.is(view?.peer, 'gc1');
  assert.is(Number(view?.unread), 2);
  assert.is(Number(view?.last_seq), 2);
  assert.is(view?.is_member, true);
  const [read] = await sql`select * from chat.mark_read('gc2', ${m.conversation_id})`;
  assert.is(Number(read?.unread), 0);
  assert.is(Number(read?.read_seq), 2);
  await expectCode(sql`select * from chat.get_conversation('gc2', 999999)`, 'MCNCV');
});

test.run();
