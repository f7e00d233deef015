/** GDPR: export_user's document, and erase_user leaving none of the user's bodies or id anywhere. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Sql } from '../../server/db.ts';
import { createUsers, expectCode, sendIn, sendTo } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('gdpr');
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase({ max: 4 });
  // Pending deliveries keep copies of bodies until delivered: no worker runs here, so they stay pending.
  await db.sql`select chat_admin.create_webhook('https://hooks.example.com/in', ${['*']})`;
});
test.after(async () => db.drop());

/** A user with a bit of everything: direct and group messages, an edit, reactions both ways, a report. */
async function busyUser(sql: Sql, id: string, needle: string) {
  await createUsers(sql, id, `${id}-amy`, `${id}-bob`, `${id}-cat`);
  const direct = await sendTo(sql, id, `${id}-amy`, `${needle} first`);
  await sql`select chat.edit_message(${id}, ${direct.conversation_id}, ${direct.seq}, ${`${needle} edited`})`;
  const reply = await sendIn(sql, `${id}-amy`, direct.conversation_id, 'an answer');
  await sql`select chat.react(${id}, ${direct.conversation_id}, ${reply.seq}, '👍')`;
  await sql`select chat.react(${`${id}-amy`}, ${direct.conversation_id}, ${direct.seq}, '🎉')`;
  await sql`select chat.report_message(${id}, ${direct.conversation_id}, ${reply.seq}, 'rude')`;
  await sql`select chat.block_user(${id}, ${`${id}-cat`})`;
  const [{ conversation_id: group }] = await sql<{ conversation_id: string }[]>`
    select conversation_id from chat.create_group(${id}, 'team', ${[`${id}-amy`, `${id}-bob`]})`;
  await sendIn(sql, `${id}-bob`, group, 'hello all');
  await sendIn(sql, id, group, `${needle} in the group`);
  await sql`select chat.set_muted(${id}, ${group})`;
  await sendIn(sql, `${id}-amy`, group, 'after');
  return { direct: direct.conversation_id, group };
}

/** Every text-like column (text, varchar, jsonb, json, arrays, tsvector) of our schemas and graphile-worker's. */
async function tracesOf(sql: Sql, needles: string[]): Promise<string[]> {
  const columns = await sql<{ table_schema: string; table_name: string; column_name: string }[]>`
    select c.table_schema, c.table_name, c.column_name
    from information_schema.columns c
    join information_schema.tables t using (table_schema, table_name)
    where t.table_type = 'BASE TABLE'
      and c.table_schema in ('chat_private', 'chat_policy', 'graphile_worker')
      and (c.data_type in ('text', 'character varying', 'jsonb', 'json', 'ARRAY', 'tsvector'))`;
  assert.ok(columns.length > 30, `scanned ${columns.length} columns`);
  const found: string[] = [];
  for (const { table_schema, table_name, column_name } of columns) {
    for (const needle of needles) {
      const [{ n }] = await sql<{ n: number }[]>`
        select count(*)::int as n from ${sql(table_schema)}.${sql(table_name)}
        where strpos(lower(${sql(column_name)}::text), lower(${needle})) > 0`;
      if (n > 0) found.push(`${table_schema}.${table_name}.${column_name} has ${needle} (${n})`);
    }
  }
  return found;
}

test('export_user: profile, settings, blocked, memberships, messages with edits and reactions, reports', async () => {
  await busyUser(db.sql, 'xena', 'xsecret');
  const [{ doc }] = await db.sql<{ doc: Record<string, unknown[]> & { profile: { user_id: string } } }[]>`
    select chat_admin.export_user('xena') as doc`;
  assert.is(doc.profile.user_id, 'xena');
  assert.ok('settings' in doc);
  assert.equal(doc.blocked, ['xena-cat']);
  assert.is(doc.memberships?.length, 2);
  const messages = doc.messages as {
    body: string;
    edits: { body: string }[];
    reactions: { emoji: string }[];
  }[];
  assert.equal(
    messages.map((m) => m.body),
    ['xsecret edited', 'xsecret in the group'],
  );
  assert.equal(
    messages[0]?.edits.map((e) => e.body),
    ['xsecret first'],
  );
  assert.equal(
    messages[0]?.reactions.map((r) => r.emoji),
    ['🎉'],
  );
  assert.equal(
    (doc.reactions as { emoji: string }[]).map((r) => r.emoji),
    ['👍'],
  );
  assert.equal(
    (doc.reports as { reason: string }[]).map((r) => r.reason),
    ['rude'],
  );
  await expectCode(db.sql`select chat_admin.export_user('nobody-at-all')`, 'MCUNU');
});

test('export_user_messages: the same messages as rows, in sending order, in pages after a message_id', async () => {
  const rows = await db.sql<{ m: { message_id: number; body: string; edits: { body: string }[] } }[]>`
    select message as m from chat_admin.export_user_messages('xena')`;
  assert.equal(
    rows.map((r) => r.m.body),
    ['xsecret edited', 'xsecret in the group'],
  );
  assert.equal(
    rows[0]?.m.edits.map((e) => e.body),
    ['xsecret first'],
  );
  const after =
    await db.sql`select message from chat_admin.export_user_messages('xena', ${rows[0]?.m.message_id ?? 0})`;
  assert.is(after.length, 1);
  assert.is((await db.sql`select chat_admin.export_user_messages('nobody-at-all')`).length, 0);
});

for (const mode of ['anonymize', 'purge'] as const) {
  test(`erase_user ${mode}: tombstones keep seq, and no table, event or pending job holds a body or the id`, async () => {
    const id = `zelda-${mode}`;
    const needle = `zsecret${mode}`;
    const { direct, group } = await busyUser(db.sql, id, needle);
    assert.ok((await tracesOf(db.sql, [needle, id])).length > 0, 'the scan finds them before');
    const [{ result }] = await db.sql<{ result: { pseudonym: string; messages: number } }[]>`
      select chat_admin.erase_user(${id}, ${mode}) as result`;
    assert.is(result.messages, 2);
    assert.match(result.pseudonym, /^erased_[0-9a-f]{16}$/);
    // `${id}-amy` etc. contain the id: look for the id as a whole JSON string, array element or value.
    const left = await tracesOf(db.sql, [needle, `"${id}"`, `{${id},`, `,${id}}`, `,${id},`, `{${id}}`]);
    const [{ exact }] = await db.sql<{ exact: number }[]>`
      select (select count(*) from chat_private.users where user_id = ${id})
        + (select count(*) from chat_private.messages where sender = ${id})
        + (select count(*) from chat_private.memberships where user_id = ${id})
        + (select count(*) from chat_private.reports where reporter = ${id} or sender = ${id})
        + (select count(*) from chat_private.conversations where owner = ${id}) as exact`;
    assert.equal(left, [], 'no trace left');
    assert.is(Number(exact), 0);
    // The others still read both conversations, seq without gaps, the erased messages as tombstones.
    for (const conversation of [direct, group]) {
      const rows = await db.sql<{ seq: string; sender: string; body: string; deleted_at: string | null }[]>`
        select seq, sender, body, deleted_at from chat.list_messages(${`${id}-amy`}, ${conversation})`;
      const seqs = rows.map((r) => Number(r.seq)).sort((a, b) => a - b);
      assert.equal(
        seqs,
        seqs.map((_, i) => i + 1),
      );
      for (const row of rows.filter((r) => r.sender === result.pseudonym)) {
        assert.is(row.body, '');
        assert.ok(row.deleted_at);
      }
      assert.ok(rows.some((r) => r.sender === result.pseudonym));
    }
    const [{ members }] = await db.sql<{ members: string[] }[]>`
      select members from chat_private.conversations where conversation_id = ${group}`;
    assert.is(members.includes(result.pseudonym), mode === 'anonymize');
    await expectCode(db.sql`select chat_admin.export_user(${id})`, 'MCUNU');
  });
}

test('erase_user: an unknown mode is MCARG, an unknown user MCUNU', async () => {
  await createUsers(db.sql, 'yuri');
  await expectCode(db.sql`select chat_admin.erase_user('yuri', 'shred')`, 'MCARG');
  await expectCode(db.sql`select chat_admin.erase_user('nobody-at-all')`, 'MCUNU');
});

test.run();
