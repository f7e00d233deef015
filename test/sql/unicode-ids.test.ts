/**
 * One user, whatever Unicode form names them: "José" as NFC (é = U+00E9) and as NFD (e + U+0301) must
 * be the same site user in every function that takes a user id, and ids are stored in NFC.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { expectCode } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('sql: user ids in Unicode normal form C');
let db: TestDatabase;

const NFC = 'Jos\u00e9';
const NFD = 'Jose\u0301';
const ZOE_NFC = 'Zo\u00eb';
const ZOE_NFD = 'Zoe\u0308';

test.before(async () => {
  db = await freshDatabase();
  assert.is.not(NFC, NFD);
  assert.is(NFD.normalize('NFC'), NFC);
  await db.sql`select chat_admin.create_user(${NFC}, 'José', password => 'correct horse')`;
  // Created in NFD, stored in NFC.
  await db.sql`select chat_admin.create_user(${ZOE_NFD})`;
  await db.sql`select chat_admin.create_user('ann')`;
});
test.after(async () => db.drop());

test('ids are stored in NFC; creating the other form of an existing id is MCEXS', async () => {
  const ids = (await db.sql`select user_id from chat_private.users order by user_id`).map(
    (row) => row.user_id,
  );
  assert.ok(ids.includes(ZOE_NFC) && !ids.includes(ZOE_NFD), JSON.stringify(ids));
  await expectCode(db.sql`select chat_admin.create_user(${NFD})`, 'MCEXS');
  const [me] = await db.sql`select * from chat.me(${NFD})`;
  assert.is(me?.user_id, NFC);
});

test('actor, recipient and members in NFD name the NFC users', async () => {
  const { sql } = db;
  const [sent] = await sql`select * from chat.send_message(${NFD}, recipient => ${ZOE_NFD}, body => 'hi')`;
  assert.is(sent?.sender, NFC);
  const [again] =
    await sql`select * from chat.send_message(${NFC}, recipient => ${ZOE_NFC}, body => 'again')`;
  assert.is(again?.conversation_id, sent?.conversation_id, 'one direct chat, not two');
  const inbox = await sql`select * from chat.list_conversations(${ZOE_NFD})`;
  assert.is(inbox.length, 1);
  assert.is(inbox[0]?.unread, 2);
  await sql`select chat.mark_read(${ZOE_NFD}, ${sent?.conversation_id})`;
  const [{ total }] = await sql`select total from chat.unread_count(${ZOE_NFC})`;
  assert.is(total, 0);
  const messages = await sql`select * from chat.list_messages(${ZOE_NFD}, ${sent?.conversation_id})`;
  assert.is(messages.length, 2);

  const [group] = await sql`select * from chat.create_group(${NFD}, 'Umlauts', array[${ZOE_NFD}, 'ann'])`;
  assert.equal(group?.members, [NFC, ZOE_NFC, 'ann']);
  assert.is(group?.owner, NFC);
  const id = group?.conversation_id;
  const [added] = await sql`select * from chat.add_members(${NFC}, ${id}, array[${ZOE_NFD}])`;
  assert.equal(added?.members, [NFC, ZOE_NFC, 'ann'], 'the NFD spelling is already a member');
  await sql`select chat.set_admin(${NFD}, ${id}, ${ZOE_NFD})`;
  const [removed] = await sql`select * from chat.remove_member(${NFD}, ${id}, "user" => ${ZOE_NFD})`;
  assert.equal(removed?.members, [NFC, 'ann']);
  await sql`select chat.rename_conversation(${NFD}, ${id}, 'Renamed')`;
  await sql`select chat.set_muted(${NFD}, ${id})`;
  const [mine] = await sql`select * from chat.get_conversation(${NFD}, ${id})`;
  assert.is(mine?.muted, true);
  await sql`select chat.delete_conversation(${NFD}, ${id})`;
  await sql`select chat.leave_conversation(${NFD}, ${id})`;
  const [left] = await sql`select * from chat.get_conversation(${NFC}, ${id})`;
  assert.is(left?.is_member, false);
});

test('block_user and unblock_user in either form', async () => {
  const { sql } = db;
  await sql`select chat.block_user(${ZOE_NFD}, "user" => ${NFD})`;
  await expectCode(
    sql`select chat.send_message(${NFC}, recipient => ${ZOE_NFC}, body => 'blocked')`,
    'MCBLK',
  );
  const blocked = await sql`select * from chat.list_blocked(${ZOE_NFD})`;
  assert.equal(
    blocked.map((row) => row.user_id),
    [NFC],
  );
  await expectCode(sql`select chat.block_user(${NFD}, "user" => ${NFC})`, 'MCSLF');
  await sql`select chat.unblock_user(${ZOE_NFC}, "user" => ${NFD})`;
  assert.is((await sql`select * from chat.list_blocked(${ZOE_NFC})`).length, 0);
});

test('admin functions: check_password, update_user, ensure_user, import_users, delete_user', async () => {
  const { sql } = db;
  const [{ ok }] = await sql`select chat_admin.check_password(${NFD}, 'correct horse') as ok`;
  assert.is(ok, true);
  const [updated] = await sql`select * from chat_admin.update_user(${NFD}, display_name => 'Jose')`;
  assert.is(updated?.user_id, NFC);
  const [ensured] = await sql`select * from chat_admin.ensure_user(${NFD})`;
  assert.is(ensured?.user_id, NFC);
  assert.is(ensured?.display_name, 'Jose');

  const [result] = await sql`select * from chat_admin.import_users(${sql.json([
    { user_id: 'Ren\u00e9e', display_name: 'First' },
    { user_id: 'Rene\u0301e', display_name: 'Last wins' },
  ])})`;
  assert.equal({ inserted: result?.inserted, updated: result?.updated }, { inserted: 1, updated: 0 });
  const [renee] = await sql`select * from chat.me(${'Ren\u00e9e'})`;
  assert.is(renee?.display_name, 'Last wins');
  const [again] =
    await sql`select * from chat_admin.import_users(${sql.json([{ user_id: 'Rene\u0301e', display_name: 'Last wins' }])})`;
  assert.equal({ inserted: again?.inserted, updated: again?.updated }, { inserted: 0, updated: 0 });

  await sql`select chat_admin.delete_user(${'Rene\u0301e'})`;
  await expectCode(sql`select chat.me(${'Ren\u00e9e'})`, 'MCUNU');
});

test('stream tickets and event replays name the NFC user', async () => {
  const { sql } = db;
  const [{ ticket }] = await sql`select * from chat_server.create_stream_ticket(${ZOE_NFD})`;
  const [redeemed] = await sql`select * from chat_server.redeem_stream_ticket(${ticket})`;
  assert.is(redeemed?.user_id, ZOE_NFC);
  const events = await sql`select * from chat_server.user_events(${ZOE_NFD}, 0)`;
  assert.ok(events.length > 0, 'the NFD spelling replays the NFC user\u2019s events');
});

test.run();
