/** chat.search_messages: full-text search over what the actor can read, newest first, keyset-paged. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectDatabase } from '../../server/db.ts';
import { createUsers, expectCode, sendIn, sendTo } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('sql: search');
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase();
  await createUsers(db.sql, 'ann', 'ben', 'cat', 'dan');
});
test.after(async () => db.drop());

type Found = { id: number; conversation_id: number; seq: number; body: string; snippet: string };
const search = (
  actor: string,
  query: string,
  options: { conversation?: string; before?: number; limit?: number } = {},
) =>
  db.sql<Found[]>`
    select * from chat.search_messages(${actor}, ${query}, conversation_id => ${options.conversation ?? null},
      before => ${options.before ?? null}, "limit" => ${options.limit ?? 20})`;
const bodies = (rows: Found[]) => rows.map((r) => r.body);

test('finds words in the conversations of the actor, newest first, with a highlighted snippet', async () => {
  const direct = (await sendTo(db.sql, 'ann', 'ben', 'the pineapple pizza debate')).conversation_id;
  await sendIn(db.sql, 'ben', direct, 'pizza <script>alert(1)</script> & more');
  await sendTo(db.sql, 'cat', 'dan', 'pizza elsewhere');
  const found = await search('ann', 'pizza');
  assert.equal(bodies(found), ['pizza <script>alert(1)</script> & more', 'the pineapple pizza debate']);
  assert.is(found[0]?.snippet, '<mark>pizza</mark> &lt;script&gt;alert(1)&lt;/script&gt; &amp; more');
  assert.equal(bodies(await search('cat', 'pizza')), ['pizza elsewhere']);
  // A non-member finds nothing, and cannot name the conversation.
  await expectCode(search('cat', 'pizza', { conversation: direct }), 'MCNMB');
  assert.equal(bodies(await search('ann', '"pineapple pizza"')), ['the pineapple pizza debate']);
  assert.equal(bodies(await search('ann', 'pizza -pineapple')), ['pizza <script>alert(1)</script> & more']);
  assert.is((await search('ann', '!!! ...')).length, 0);
});

test('edits are found at once; deleted messages never', async () => {
  const { conversation_id: id, seq } = await sendTo(db.sql, 'ann', 'ben', 'kumquat');
  assert.is((await search('ben', 'kumquat')).length, 1);
  await db.sql`select chat.edit_message('ann', ${id}, ${seq}, 'clementine')`;
  assert.is((await search('ben', 'kumquat')).length, 0);
  assert.is((await search('ben', 'clementine')).length, 1);
  await db.sql`select chat.delete_message('ann', ${id}, ${seq})`;
  assert.is((await search('ben', 'clementine')).length, 0);
});

test('keyset pages with before = the id of the last result; conversation_id narrows', async () => {
  const direct = (await sendTo(db.sql, 'ann', 'cat', 'walrus 1')).conversation_id;
  for (let i = 2; i <= 5; i++) await sendIn(db.sql, i % 2 ? 'ann' : 'cat', direct, `walrus ${i}`);
  await sendTo(db.sql, 'ann', 'dan', 'walrus elsewhere');
  const first = await search('ann', 'walrus', { limit: 2 });
  assert.equal(bodies(first), ['walrus elsewhere', 'walrus 5']);
  const second = await search('ann', 'walrus', { limit: 2, before: first[1]?.id });
  assert.equal(bodies(second), ['walrus 4', 'walrus 3']);
  const narrowed = await search('ann', 'walrus', { conversation: direct, limit: 10 });
  assert.equal(bodies(narrowed), ['walrus 5', 'walrus 4', 'walrus 3', 'walrus 2', 'walrus 1']);
  await expectCode(search('ann', 'walrus', { limit: 0 }), 'MCLIM');
  await expectCode(search('ann', 'x'.repeat(1001)), 'MCARG');
});

test('not before the actor joined or deleted the chat, not after they left', async () => {
  const [g] = await db.sql`select * from chat.create_group('ann', 'Club', array['ben'])`;
  const id = g?.conversation_id;
  await sendIn(db.sql, 'ann', id, 'narwhal before cat');
  await db.sql`select chat.add_members('ann', ${id}, array['cat'])`;
  await sendIn(db.sql, 'ann', id, 'narwhal with cat');
  assert.equal(bodies(await search('cat', 'narwhal')), ['narwhal with cat']);
  await db.sql`select chat.remove_member('ann', ${id}, 'cat')`;
  await sendIn(db.sql, 'ann', id, 'narwhal after cat');
  assert.equal(bodies(await search('cat', 'narwhal')), ['narwhal with cat'], 'what cat saw, not later');
  await db.sql`select chat.delete_conversation('ben', ${id})`;
  assert.equal(bodies(await search('ben', 'narwhal')), []);
  assert.is((await search('ann', 'narwhal')).length, 3);
});

test('the text-search configuration is the setting microchatter.search_config', async () => {
  // 'simple', the default, matches words as written.
  await sendTo(db.sql, 'ann', 'ben', 'the runners were running');
  assert.is((await search('ben', 'run')).length, 0);
  const sql = connectDatabase(db.url, { max: 1 });
  try {
    await sql`set microchatter.search_config = 'english'`;
    await sql`select chat.send_message('ann', recipient => 'ben', body => 'she runs daily')`;
    const found = await sql`select body from chat.search_messages('ben', 'run')`;
    assert.equal(
      found.map((r) => r.body),
      ['she runs daily'],
    );
  } finally {
    await sql.end();
  }
});

test('a user with hundreds of conversations still finds only their own', async () => {
  const peers = Array.from({ length: 520 }, (_, i) => `peer${i}`);
  await db.sql`select chat_admin.import_users(${db.sql.json(peers.map((user_id) => ({ user_id })))})`;
  await db.sql`
    select chat.send_message('dan', recipient => p, body => 'axolotl ' || p) from unnest(${peers}::text[]) p`;
  await sendTo(db.sql, 'ann', 'ben', 'axolotl not for dan');
  const found = await search('dan', 'axolotl', { limit: 100 });
  assert.is(found.length, 100);
  assert.ok(found.every((r) => r.body.startsWith('axolotl peer')));
});

test.run();
