/** A member who left or was removed sees the group as it was when they left, not as it is now. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createUsers, sendIn } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('sql: former members');
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase();
  await createUsers(db.sql, 'owner', 'admin', 'member', 'leaver', 'newbie');
});
test.after(async () => db.drop());

const seen = async (user: string, id: string) => {
  const [fromGet] = await db.sql`select * from chat.get_conversation(${user}, ${id})`;
  const inbox = await db.sql`select * from chat.list_conversations(${user})`;
  const fromInbox = inbox.find((row) => String(row.conversation_id) === id);
  assert.ok(fromInbox, `${user} still has the group in their inbox`);
  for (const row of [fromGet, fromInbox]) {
    assert.equal(
      {
        title: row?.title,
        members: row?.members,
        owner: row?.owner,
        admins: row?.admins,
        is_member: row?.is_member,
      },
      {
        title: fromGet?.title,
        members: fromGet?.members,
        owner: fromGet?.owner,
        admins: fromGet?.admins,
        is_member: fromGet?.is_member,
      },
      'get_conversation and list_conversations agree',
    );
  }
  return fromGet;
};

test('a removed member keeps the title and members of the moment they were removed', async () => {
  const { sql } = db;
  const [group] = await sql`select * from chat.create_group('owner', 'Before', array['admin', 'member'])`;
  const id = String(group?.conversation_id);
  await sql`select chat.set_admin('owner', ${id}, 'admin')`;
  await sendIn(sql, 'member', id, 'hello');
  await sql`select chat.remove_member('owner', ${id}, 'member')`;

  await sql`select chat.rename_conversation('owner', ${id}, 'After')`;
  await sql`select chat.add_members('owner', ${id}, array['newbie'])`;
  await sql`select chat.set_admin('owner', ${id}, 'admin', false)`;

  const removed = await seen('member', id);
  assert.is(removed?.title, 'Before');
  assert.equal(removed?.members, ['owner', 'admin']);
  assert.is(removed?.owner, 'owner');
  assert.equal(removed?.admins, ['owner', 'admin']);
  assert.is(removed?.is_member, false);
  assert.is(removed?.last_message?.body, 'hello');

  const current = await seen('owner', id);
  assert.is(current?.title, 'After');
  assert.equal(current?.members, ['owner', 'admin', 'newbie']);
});

test('a member who leaves sees the group as they left it; ownership passed on is part of that', async () => {
  const { sql } = db;
  const [group] = await sql`select * from chat.create_group('leaver', 'Mine', array['owner', 'member'])`;
  const id = String(group?.conversation_id);
  await sql`select chat.leave_conversation('leaver', ${id})`;
  await sql`select chat.rename_conversation('owner', ${id}, 'Theirs')`;
  await sql`select chat.add_members('owner', ${id}, array['newbie'])`;

  const left = await seen('leaver', id);
  assert.is(left?.title, 'Mine');
  assert.equal(left?.members, ['owner', 'member']);
  assert.is(left?.owner, 'owner');
  assert.equal(left?.admins, ['owner']);
});

test('added again, a former member sees the group as it is now', async () => {
  const { sql } = db;
  const [group] = await sql`select * from chat.create_group('owner', 'Again', array['member'])`;
  const id = String(group?.conversation_id);
  await sql`select chat.remove_member('owner', ${id}, 'member')`;
  await sql`select chat.rename_conversation('owner', ${id}, 'Again and again')`;
  await sql`select chat.add_members('owner', ${id}, array['newbie', 'member'])`;
  const back = await seen('member', id);
  assert.is(back?.title, 'Again and again');
  assert.equal(back?.members, ['owner', 'newbie', 'member']);
  assert.is(back?.is_member, true);

  await sql`select chat.remove_member('owner', ${id}, 'member')`;
  await sql`select chat.rename_conversation('owner', ${id}, 'Third name')`;
  const removedAgain = await seen('member', id);
  assert.is(removedAgain?.title, 'Again and again');
  assert.equal(removedAgain?.members, ['owner', 'newbie']);
});

test('a deleted user leaves their groups like anyone else: the others see them gone', async () => {
  const { sql } = db;
  await createUsers(sql, 'gone');
  const [group] = await sql`select * from chat.create_group('owner', 'Farewell', array['gone', 'admin'])`;
  const id = String(group?.conversation_id);
  await sql`select chat_admin.delete_user('gone')`;
  const current = await seen('admin', id);
  assert.equal(current?.members, ['owner', 'admin']);
});

test.run();
