import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createUsers, expectCode, onOwnSession, sendIn, seqs } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('sql: groups');
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase();
  await createUsers(db.sql, 'owner', 'admin', 'member', 'newbie', 'outsider');
});
test.after(async () => db.drop());

const createGroup = async (title: string, members: string[]) => {
  const [group] = await db.sql`select * from chat.create_group('owner', ${title}, ${members})`;
  return String(group?.conversation_id);
};

test('create_group makes the creator owner and admin; members see it in their inbox', async () => {
  const [group] = await db.sql`
    select * from chat.create_group('owner', '  Book club  ', array['admin', 'member', 'admin', 'owner'])`;
  assert.is(group?.kind, 'group');
  assert.is(group?.title, 'Book club');
  assert.equal(group?.members, ['owner', 'admin', 'member']);
  assert.is(group?.owner, 'owner');
  assert.equal(group?.admins, ['owner']);
  const [seen] = await db.sql`select * from chat.list_conversations('member')`;
  assert.is(seen?.conversation_id, group?.conversation_id);
  assert.is(seen?.title, 'Book club');
  await expectCode(db.sql`select chat.create_group('owner', '', array['member'])`, 'MCARG');
  await expectCode(db.sql`select chat.create_group('owner', ${'t'.repeat(201)}, array['member'])`, 'MCARG');
  await expectCode(db.sql`select chat.create_group('owner', 'x', array['member', 'nobody'])`, 'MCUNU');
});

test('group size is bounded by a setting', async () => {
  await onOwnSession(db.sql, async (sql) => {
    await sql`set microchatter.max_group_members = 2`;
    await expectCode(sql`select chat.create_group('owner', 'Crowd', array['admin', 'member'])`, 'MCFUL');
  });
});

test('owner names admins; owner and admins manage members; others may not', async () => {
  const { sql } = db;
  const id = await createGroup('Managed', ['admin', 'member']);
  await expectCode(sql`select chat.set_admin('admin', ${id}, 'member')`, 'MCFRB');
  const [withAdmin] = await sql`select * from chat.set_admin('owner', ${id}, 'admin')`;
  assert.equal(withAdmin?.admins, ['owner', 'admin']);
  await expectCode(sql`select chat.add_members('member', ${id}, array['newbie'])`, 'MCFRB');
  await expectCode(sql`select chat.rename_conversation('member', ${id}, 'Mine now')`, 'MCFRB');
  await expectCode(sql`select chat.add_members('outsider', ${id}, array['outsider'])`, 'MCNMB');
  const [added] = await sql`select * from chat.add_members('admin', ${id}, array['newbie'])`;
  assert.equal(added?.members, ['owner', 'admin', 'member', 'newbie']);
  const [renamed] = await sql`select * from chat.rename_conversation('admin', ${id}, 'Renamed')`;
  assert.is(renamed?.title, 'Renamed');
  // Admins may remove ordinary members, not other admins or the owner.
  await expectCode(sql`select chat.remove_member('admin', ${id}, 'owner')`, 'MCFRB');
  await sql`select chat.set_admin('owner', ${id}, 'member')`;
  await expectCode(sql`select chat.remove_member('admin', ${id}, 'member')`, 'MCFRB');
  await sql`select chat.set_admin('owner', ${id}, 'member', false)`;
  const [removed] = await sql`select * from chat.remove_member('admin', ${id}, 'member')`;
  assert.equal(removed?.members, ['owner', 'admin', 'newbie']);
  await expectCode(sql`select chat.remove_member('admin', ${id}, 'member')`, 'MCNMB');
  await expectCode(
    sql`select chat.send_message('member', conversation_id => ${id}, body => 'still here?')`,
    'MCNMB',
  );
});

test('a new member sees messages from joining on, not the history before', async () => {
  const { sql } = db;
  const id = await createGroup('History', ['member']);
  await sendIn(sql, 'owner', id, 'before newbie');
  await sql`select chat.add_members('owner', ${id}, array['newbie'])`;
  await sendIn(sql, 'member', id, 'welcome newbie');
  assert.equal(seqs(await sql`select * from chat.list_messages('newbie', ${id})`), [2]);
  const [view] = await sql`select * from chat.get_conversation('newbie', ${id})`;
  assert.is(Number(view?.unread), 1);
});

test('a member who leaves keeps what they saw, receives nothing later, and cannot act', async () => {
  const { sql } = db;
  const id = await createGroup('Leaving', ['member', 'newbie']);
  await sendIn(sql, 'member', id, 'one');
  await sendIn(sql, 'owner', id, 'two');
  await sql`select chat.leave_conversation('member', ${id})`;
  await sendIn(sql, 'owner', id, 'three, after member left');

  assert.equal(seqs(await sql`select * from chat.list_messages('member', ${id})`), [2, 1]);
  assert.equal(seqs(await sql`select * from chat.list_messages('member', ${id}, after_seq => 2)`), []);
  const [view] = await sql`select * from chat.get_conversation('member', ${id})`;
  assert.is(view?.is_member, false);
  assert.is(view?.last_message?.body, 'two');
  assert.is(Number(view?.unread), 1);
  assert.equal(view?.members, ['owner', 'newbie']);
  await sql`select chat.mark_read('member', ${id})`;
  const [afterRead] = await sql`select * from chat.get_conversation('member', ${id})`;
  assert.is(Number(afterRead?.read_seq), 2);
  await expectCode(
    sql`select chat.send_message('member', conversation_id => ${id}, body => 'hello?')`,
    'MCNMB',
  );
  await expectCode(sql`select chat.leave_conversation('member', ${id})`, 'MCNMB');
  // Coming back shows only what is sent from then on.
  await sql`select chat.add_members('owner', ${id}, array['member'])`;
  await sendIn(sql, 'newbie', id, 'welcome back');
  assert.equal(seqs(await sql`select * from chat.list_messages('member', ${id})`), [4]);
});

test('when the owner leaves, the longest-standing admin, else member, takes over', async () => {
  const { sql } = db;
  const id = await createGroup('Succession', ['member', 'admin', 'newbie']);
  await sql`select chat.set_admin('owner', ${id}, 'newbie')`;
  await sql`select chat.leave_conversation('owner', ${id})`;
  const [view] = await sql`select * from chat.get_conversation('member', ${id})`;
  assert.is(view?.owner, 'newbie');
  await sql`select chat.leave_conversation('newbie', ${id})`;
  const [next] = await sql`select * from chat.get_conversation('member', ${id})`;
  assert.is(next?.owner, 'member');
  assert.equal(next?.admins, ['member']);
});

test('direct chats are not groups', async () => {
  const { sql } = db;
  const [m] = await sql`select * from chat.send_message('owner', recipient => 'member', body => 'hi')`;
  const id = m?.conversation_id;
  await expectCode(sql`select chat.leave_conversation('owner', ${id})`, 'MCKND');
  await expectCode(sql`select chat.add_members('owner', ${id}, array['newbie'])`, 'MCKND');
  await expectCode(sql`select chat.rename_conversation('owner', ${id}, 'x')`, 'MCKND');
  await expectCode(sql`select chat.set_admin('owner', ${id}, 'member')`, 'MCKND');
});

test.run();
