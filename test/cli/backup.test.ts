/** backup then restore into another fresh database gives the same rows, sequences and a working chat. */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Sql } from '../../server/db.ts';
import { createUsers, sendIn, sendTo } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { freshDataDir, runCli } from './run-cli.ts';

const test = suite<{ source: TestDatabase; target: TestDatabase; files: string }>('cli: backup and restore');

test.before.each(async (context) => {
  context.source = await freshDatabase();
  context.target = await freshDatabase();
  context.files = await mkdtemp(path.join(tmpdir(), 'mc-cli-backup-'));
  await populate(context.source.sql);
});
test.after.each(async ({ source, target }) => {
  await source.drop();
  await target.drop();
});

async function envFor(db: TestDatabase): Promise<Record<string, string>> {
  return { DATABASE_URL: db.url, MICROCHATTER_DATA_DIR: await freshDataDir() };
}

async function populate(sql: Sql): Promise<void> {
  await createUsers(sql, 'ann', 'ben', 'cy');
  await sql`select chat_admin.create_user('dee', 'Dee', password => 'dee-password')`;
  const first = await sendTo(sql, 'ann', 'ben', 'hello\nwith a newline, a tab\t and a backslash \\.');
  await sendIn(sql, 'ben', first.conversation_id, 'hi ann');
  await sql`select chat.mark_read('ann', ${first.conversation_id})`;
  const [group] = await sql`select conversation_id from chat.create_group('cy', 'Team', array['ann', 'dee'])`;
  await sendIn(sql, 'dee', group?.conversation_id, '{"json": "looking"}');
  await sql`select chat.block_user('cy', 'ben')`;
}

/** Every row of every chat table, as text, in a stable order. */
async function snapshot(sql: Sql): Promise<Record<string, string[]>> {
  const tables = await sql<{ name: string }[]>`
    select format('%I.%I', schemaname, tablename) as name from pg_tables
    where schemaname = 'chat' or schemaname like 'chat\_%' order by 1`;
  const rows: Record<string, string[]> = {};
  for (const { name } of tables) {
    const result = await sql.unsafe<{ row: string }[]>(`select t::text as row from ${name} t order by 1`);
    rows[name] = result.map((row) => row.row);
  }
  return rows;
}

async function sequences(sql: Sql): Promise<Record<string, string>> {
  const rows = await sql<{ name: string; last_value: string | null }[]>`
    select format('%I.%I', schemaname, sequencename) as name, last_value::text
    from pg_sequences where schemaname like 'chat\_%' order by 1`;
  return Object.fromEntries(rows.map((row) => [row.name, String(row.last_value)]));
}

test('restore into a fresh database reproduces every row and sequence; the chat carries on', async ({
  source,
  target,
  files,
}) => {
  const file = path.join(files, 'chat.backup');
  const saved = await runCli(['backup', file], await envFor(source));
  assert.is(saved.code, 0, saved.stderr);
  assert.match(saved.stdout, /rows of \d+ tables, at migration /);

  const restored = await runCli(['restore', file], await envFor(target));
  assert.is(restored.code, 0, restored.stderr);

  const before = await snapshot(source.sql);
  assert.ok((before['chat_private.messages'] ?? []).length === 3, 'the source has its messages');
  assert.equal(await snapshot(target.sql), before);
  assert.equal(await sequences(target.sql), await sequences(source.sql));

  // Ids continue where they stopped, the triggers write events again, passwords still check.
  const inSource = await sendTo(source.sql, 'ben', 'ann', 'after the backup');
  const inTarget = await sendTo(target.sql, 'ben', 'ann', 'after the backup');
  assert.equal([inTarget.id, inTarget.seq], [inSource.id, inSource.seq]);
  const [events] = await target.sql`
    select count(*)::int as n from chat_private.events where payload::text like '%after the backup%'`;
  assert.ok((events?.n ?? 0) > 0, 'the restored database writes events');
  const [login] = await target.sql`select chat_admin.check_password('dee', 'dee-password') as ok`;
  assert.is(login?.ok, true);
});

test('a .gz name writes gzip, which restore reads', async ({ source, target, files }) => {
  const file = path.join(files, 'chat.backup.gz');
  assert.is((await runCli(['backup', file], await envFor(source))).code, 0);
  const bytes = await readFile(file);
  assert.equal([bytes[0], bytes[1]], [0x1f, 0x8b]);
  const restored = await runCli(['restore', file], await envFor(target));
  assert.is(restored.code, 0, restored.stderr);
  assert.equal(await snapshot(target.sql), await snapshot(source.sql));
});

test('a backup bigger than the stream buffers completes, gzipped, and restores every row', async ({
  source,
  target,
  files,
}) => {
  // Enough rows that the COPY stream waits on gzip, where the connection could be left paused.
  await source.sql`
    select chat_admin.import_users(
      (select jsonb_agg(jsonb_build_object('user_id', 'bulk' || i, 'display_name', 'Bulk user ' || i))
       from generate_series(1, 100000) i))`;
  const file = path.join(files, 'big.backup.gz');
  const saved = await runCli(['backup', file], await envFor(source));
  assert.is(saved.code, 0, saved.stderr);
  const restored = await runCli(['restore', file], await envFor(target));
  assert.is(restored.code, 0, restored.stderr);
  const [count] = await target.sql`select count(*)::int as n from chat_private.users`;
  assert.is(count?.n, 100004);
});

test('restore refuses a database with users (unless --force), a cut-off file and a file that is no backup', async ({
  source,
  target,
  files,
}) => {
  const file = path.join(files, 'chat.backup');
  assert.is((await runCli(['backup', file], await envFor(source))).code, 0);
  const targetEnv = await envFor(target);

  await target.sql`select chat_admin.create_user('zed')`;
  const refused = await runCli(['restore', file], targetEnv);
  assert.is(refused.code, 1);
  assert.match(refused.stderr, /^microchatter: the database already has users[^\n]*--force[^\n]*\n$/);
  const [zed] = await target.sql`select count(*)::int as n from chat_private.users where user_id = 'zed'`;
  assert.is(zed?.n, 1);

  const text = await readFile(file, 'utf8');
  const cut = path.join(files, 'cut.backup');
  await writeFile(cut, text.slice(0, text.lastIndexOf('{"end"')));
  const incomplete = await runCli(['restore', cut, '--force'], targetEnv);
  assert.is(incomplete.code, 1);
  assert.match(incomplete.stderr, /incomplete/);
  assert.is((await snapshot(target.sql))['chat_private.users']?.length, 1, 'nothing changed');

  const notBackup = path.join(files, 'users.csv');
  await writeFile(notBackup, 'user_id\nann\n');
  const wrong = await runCli(['restore', notBackup], targetEnv);
  assert.is(wrong.code, 1);
  assert.match(wrong.stderr, /^microchatter: not a Microchatter backup/);

  const forced = await runCli(['restore', file, '--force'], targetEnv);
  assert.is(forced.code, 0, forced.stderr);
  assert.equal(await snapshot(target.sql), await snapshot(source.sql));
});

test.run();
