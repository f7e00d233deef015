import { createHash } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createUsers, expectCode, sendIn, sendTo, seqs } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('sql: users and the admin API');
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase();
});
test.after(async () => db.drop());

const checkPassword = async (user: string, password: string) => {
  const [row] = await db.sql`select chat_admin.check_password(${user}, ${password}) as ok`;
  return row?.ok as boolean;
};

test('create_user mirrors a site user; ids are unique and validated', async () => {
  const { sql } = db;
  const [profile] =
    await sql`select * from chat_admin.create_user('site-42', 'Ada Lovelace', 'correct horse')`;
  assert.is(profile?.user_id, 'site-42');
  assert.is(profile?.display_name, 'Ada Lovelace');
  assert.is(profile?.has_password, true);
  const [me] = await sql`select * from chat.me('site-42')`;
  assert.is(me?.display_name, 'Ada Lovelace');
  await expectCode(sql`select chat_admin.create_user('site-42')`, 'MCEXS');
  await expectCode(sql`select chat_admin.create_user('')`, 'MCARG');
  await expectCode(sql`select chat_admin.create_user(${'x'.repeat(201)})`, 'MCARG');
  await expectCode(sql`select chat_admin.create_user(${'bad\nid'})`, 'MCARG');
  await expectCode(sql`select chat_admin.create_user('hashy', password_hash => 'plaintext')`, 'MCHSH');
  await expectCode(
    sql`select chat_admin.create_user('both', password => 'a', password_hash => ${'a'.repeat(32)})`,
    'MCARG',
  );
  await expectCode(sql`select * from chat.me('nobody')`, 'MCUNU');
  await expectCode(sql`select chat_admin.create_user('blank', password => '')`, 'MCARG');
  await expectCode(sql`select chat_admin.create_user('blank', password => ${' \t'})`, 'MCARG');
  // The stored hash is bcrypt, and only the right password matches.
  const [{ password_hash }] =
    await sql`select password_hash from chat_private.users where user_id = 'site-42'`;
  assert.match(password_hash, /^\$2[ab]\$10\$/);
  assert.is(await checkPassword('site-42', 'correct horse'), true);
  assert.is(await checkPassword('site-42', 'wrong'), false);
  assert.is(await checkPassword('nobody', 'x'), false);
});

test('update_user changes what it is given and keeps the rest', async () => {
  const { sql } = db;
  await sql`select chat_admin.create_user('upd', 'Old name', 'old pass')`;
  const [renamed] = await sql`select * from chat_admin.update_user('upd', display_name => 'New name')`;
  assert.is(renamed?.display_name, 'New name');
  assert.is(await checkPassword('upd', 'old pass'), true);
  await sql`select chat_admin.update_user('upd', password => 'new pass')`;
  assert.is(await checkPassword('upd', 'old pass'), false);
  assert.is(await checkPassword('upd', 'new pass'), true);
  const [noPassword] = await sql`select * from chat_admin.update_user('upd', remove_password => true)`;
  assert.is(noPassword?.has_password, false);
  assert.is(noPassword?.display_name, 'New name');
  assert.is(await checkPassword('upd', 'new pass'), false);
  await expectCode(sql`select chat_admin.update_user('ghost', display_name => 'x')`, 'MCUNU');
  await expectCode(
    sql`select chat_admin.update_user('upd', password => 'a', remove_password => true)`,
    'MCARG',
  );
});

test('import_users takes thousands in one call, is idempotent, and accepts bcrypt and legacy MD5', async () => {
  const { sql } = db;
  const md5 = createHash('md5').update('legacy secret').digest('hex');
  const [{ bcrypt }] = await sql`select crypt('bcrypt secret', gen_salt('bf', 4)) as bcrypt`;
  const users = Array.from({ length: 5000 }, (_, i) => ({
    user_id: `imp${i}`,
    display_name: `Imported ${i}`,
  }));
  users.push({ user_id: 'legacy', display_name: 'Legacy', password_hash: md5.toUpperCase() } as never);
  users.push({ user_id: 'modern', display_name: 'Modern', password_hash: bcrypt } as never);

  const [first] = await sql`select * from chat_admin.import_users(${sql.json(users)})`;
  assert.equal([Number(first?.inserted), Number(first?.updated)], [5002, 0]);
  const [again] = await sql`select * from chat_admin.import_users(${sql.json(users)})`;
  assert.equal([Number(again?.inserted), Number(again?.updated)], [0, 0]);

  const changed = [
    { user_id: 'imp7', display_name: 'Renamed' },
    { user_id: 'imp7', display_name: 'Renamed twice' },
  ];
  const [third] = await sql`select * from chat_admin.import_users(${sql.json(changed)})`;
  assert.equal([Number(third?.inserted), Number(third?.updated)], [0, 1]);
  const [me] = await sql`select * from chat.me('imp7')`;
  assert.is(me?.display_name, 'Renamed twice');

  // Legacy MD5 logs in once and is replaced by bcrypt on that login.
  assert.is(await checkPassword('legacy', 'wrong'), false);
  assert.is(await checkPassword('legacy', 'legacy secret'), true);
  const [{ password_hash }] =
    await sql`select password_hash from chat_private.users where user_id = 'legacy'`;
  assert.match(password_hash, /^\$2[ab]\$/);
  assert.is(await checkPassword('legacy', 'legacy secret'), true);
  assert.is(await checkPassword('modern', 'bcrypt secret'), true);

  await expectCode(sql`select chat_admin.import_users(${sql.json({ user_id: 'x' })})`, 'MCARG');
  await expectCode(sql`select chat_admin.import_users(${sql.json(['x'])})`, 'MCARG');
  await expectCode(
    sql`select chat_admin.import_users(${sql.json([{ user_id: 'x', password_hash: 'nope' }])})`,
    'MCHSH',
  );
  await expectCode(sql`select chat_admin.import_users(${sql.json([{ user_id: '' }])})`, 'MCARG');
  // Unknown keys (a misspelling, a plain-text password) and non-string ids are refused, not ignored.
  await expectCode(
    sql`select chat_admin.import_users(${sql.json([{ user_id: 'p', password: 'secret' }])})`,
    'MCARG',
  );
  await expectCode(
    sql`select chat_admin.import_users(${sql.json([{ user_id: 'p', dispaly_name: 'x' }])})`,
    'MCARG',
  );
  await expectCode(sql`select chat_admin.import_users(${sql.json([{ user_id: 5 }])})`, 'MCARG');
  // A failed import stores nothing.
  await expectCode(
    sql`select chat_admin.import_users(${sql.json([{ user_id: 'fine' }, { user_id: '' }])})`,
    'MCARG',
  );
  assert.is((await sql`select from chat_private.users where user_id = 'fine'`).length, 0);
});

test('delete_user: groups pass on, direct history stays with the other user, the id can start afresh', async () => {
  const { sql } = db;
  await createUsers(sql, 'leaver', 'stayer', 'third');
  const direct = await sendTo(sql, 'leaver', 'stayer', 'goodbye');
  const [group] = await sql`select * from chat.create_group('leaver', 'Club', array['stayer', 'third'])`;
  await sendIn(sql, 'leaver', group?.conversation_id, 'my last words');
  await sql`select chat.block_user('stayer', 'leaver')`;

  await sql`select chat_admin.delete_user('leaver')`;
  await expectCode(sql`select * from chat.me('leaver')`, 'MCUNU');
  const [club] = await sql`select * from chat.get_conversation('stayer', ${group?.conversation_id})`;
  assert.equal(club?.members, ['stayer', 'third']);
  assert.is(club?.owner, 'stayer');
  assert.is(club?.last_message?.sender, 'leaver');
  assert.equal(seqs(await sql`select * from chat.list_messages('stayer', ${direct.conversation_id})`), [1]);
  assert.equal((await sql`select * from chat.list_blocked('stayer')`).length, 0);
  await expectCode(
    sql`select chat.send_message('stayer', conversation_id => ${direct.conversation_id}, body => 'hello?')`,
    'MCUNU',
  );

  await createUsers(sql, 'leaver');
  const fresh = await sendTo(sql, 'leaver', 'stayer', 'new me');
  assert.is.not(fresh.conversation_id, direct.conversation_id);
  assert.is(Number(fresh.seq), 1);
  assert.equal(await sql`select * from chat.list_conversations('leaver')`.then((rows) => rows.length), 1);
  await expectCode(sql`select chat_admin.delete_user('leaver2')`, 'MCUNU');
});

test.run();
