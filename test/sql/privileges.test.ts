import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createUsers, expectCode, onOwnSession } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('sql: privileges and documentation');
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase();
  await createUsers(db.sql, 'alice', 'bob');
});
test.after(async () => db.drop());

test('the application role can call the API but not touch the tables', async () => {
  await onOwnSession(db.sql, async (sql) => {
    await sql`set role microchatter_app`;
    const [message] =
      await sql`select * from chat.send_message('alice', recipient => 'bob', body => 'via the API')`;
    assert.is(message?.body, 'via the API');
    await expectCode(sql`select * from chat_private.messages`, '42501');
    await expectCode(sql`select chat_private.hash_password('x')`, '42501');
  });
});

test('public cannot execute the API', async () => {
  const [row] = await db.sql`
    select count(*)::int as open
    from pg_proc p
    where p.pronamespace in ('chat'::regnamespace, 'chat_admin'::regnamespace, 'chat_server'::regnamespace,
                             'chat_private'::regnamespace)
      and has_function_privilege('public', p.oid, 'execute')`;
  assert.is(row?.open, 0);
});

test('every API function is documented, declares its volatility and pins its search_path', async () => {
  const rows = await db.sql`
    select p.proname, obj_description(p.oid, 'pg_proc') as doc, p.prosecdef, p.proconfig
    from pg_proc p
    where p.pronamespace in ('chat'::regnamespace, 'chat_admin'::regnamespace, 'chat_server'::regnamespace)`;
  assert.ok(rows.length >= 25);
  for (const row of rows) {
    assert.ok(row.doc && row.doc.length > 20, `${row.proname} has a comment`);
    assert.ok(row.prosecdef, `${row.proname} is security definer`);
    assert.ok(
      (row.proconfig ?? []).includes('search_path=pg_catalog, pg_temp'),
      `${row.proname} pins its search_path`,
    );
  }
});

test.run();
