/** create-user and import-users against a real database, through the real CLI process. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { freshDataDir, runCli } from './run-cli.ts';

const test = suite<{ db: TestDatabase; env: Record<string, string>; files: string }>('cli: users');

test.before.each(async (context) => {
  context.db = await freshDatabase();
  context.env = { DATABASE_URL: context.db.url, MICROCHATTER_DATA_DIR: await freshDataDir() };
  context.files = await mkdtemp(path.join(tmpdir(), 'mc-cli-import-'));
});
test.after.each(async ({ db }) => {
  await db.drop();
});

test('create-user creates the user; a second time is one line with MCEXS and exit 1', async ({ db, env }) => {
  const created = await runCli(['create-user', 'ann', '--name', 'Ann Example'], env);
  assert.is(created.code, 0, created.stderr);
  assert.match(created.stdout, 'created user ann');
  const [ann] = await db.sql`select display_name from chat.me('ann')`;
  assert.is(ann?.display_name, 'Ann Example');

  const again = await runCli(['create-user', 'ann'], env);
  assert.is(again.code, 1);
  assert.match(again.stderr, /^microchatter: .*\(MCEXS\)\n$/);
});

test('create-user --password-prompt reads the password from standard input when it is not a terminal', async ({
  db,
  env,
}) => {
  const created = await runCli(['create-user', 'ben', '--password-prompt'], env, 'ben-secret-1\n');
  assert.is(created.code, 0, created.stderr);
  const [good] = await db.sql`select chat_admin.check_password('ben', 'ben-secret-1') as ok`;
  const [bad] = await db.sql`select chat_admin.check_password('ben', 'ben-secret-2') as ok`;
  assert.equal([good?.ok, bad?.ok], [true, false]);

  const empty = await runCli(['create-user', 'cat', '--password-prompt'], env, '');
  assert.is(empty.code, 1);
  assert.match(empty.stderr, /^microchatter: .*password/);
});

const md5 = 'e10adc3949ba59abbe56e057f20f883e';
const csv = [
  'user_id,display_name,password_hash',
  'u1,User One,',
  '"u2","Two, with ""quotes""",',
  `u3,,${md5}`,
  'u4,Too,many,fields',
  'u5,"A name',
  'over two lines",',
  '',
  `u6,${'x'.repeat(201)},`,
  'u7,Seven,not-a-hash',
  'u8,Eight,',
].join('\n');

test('import-users from CSV: good rows imported, bad rows skipped by line number; a second run imports nothing', async ({
  db,
  env,
  files,
}) => {
  const file = path.join(files, 'users.csv');
  await writeFile(file, `${csv}\n`);
  const first = await runCli(['import-users', file], env);
  assert.is(first.code, 2, first.stderr);
  assert.match(first.stderr, /^line 5: skipped: expected 3 fields, found 4$/m);
  assert.match(first.stderr, /^line 6: skipped: .*\(MCARG\)$/m);
  assert.match(first.stderr, /^line 9: skipped: .*\(MCARG\)$/m);
  assert.match(first.stderr, /^line 10: skipped: .*\(MCHSH\)$/m);
  assert.is(first.stderr.match(/skipped:/g)?.length, 4, first.stderr);
  assert.match(first.stdout, '8 rows read, 4 imported (4 new, 0 updated, 0 unchanged); 4 skipped');

  const users = await db.sql`
    select user_id, display_name, password_hash is not null as has_password
    from chat_private.users order by user_id`;
  assert.equal(
    users.map((user) => [user.user_id, user.display_name, user.has_password]),
    [
      ['u1', 'User One', false],
      ['u2', 'Two, with "quotes"', false],
      ['u3', null, true],
      ['u8', 'Eight', false],
    ],
  );

  const second = await runCli(['import-users', file], env);
  assert.is(second.code, 2, second.stderr);
  assert.match(second.stdout, '4 imported (0 new, 0 updated, 4 unchanged); 4 skipped: nothing new to import');
  const [count] = await db.sql`select count(*)::int as n from chat_private.users`;
  assert.is(count?.n, 4);
});

test('import-users from JSONL, in batches smaller than the file; a changed name is an update', async ({
  db,
  env,
  files,
}) => {
  const file = path.join(files, 'users.jsonl');
  const lines = [
    ...Array.from({ length: 25 }, (_, index) =>
      JSON.stringify({ user_id: `j${index}`, display_name: `J ${index}` }),
    ),
    '{"user_id": "broken"',
    '',
    JSON.stringify({ user_id: 'jx', passwd: 'plain text' }),
    JSON.stringify({ user_id: 'jy' }),
  ];
  await writeFile(file, `${lines.join('\n')}\n`);
  const first = await runCli(['import-users', file, '--batch-size', '10'], env);
  assert.is(first.code, 2, first.stderr);
  assert.match(first.stderr, /^line 26: skipped: not valid JSON$/m);
  assert.match(first.stderr, /^line 28: skipped: unknown key passwd.*\(MCARG\)$/m);
  assert.is(first.stderr.match(/skipped:/g)?.length, 2, first.stderr);
  assert.match(first.stdout, '28 rows read, 26 imported (26 new, 0 updated, 0 unchanged); 2 skipped');

  const fixed = lines.slice(0, 25).concat(JSON.stringify({ user_id: 'jy', display_name: 'Why' }));
  await writeFile(file, `${fixed.join('\n')}\n`);
  const second = await runCli(['import-users', file], env);
  assert.is(second.code, 0, second.stderr);
  assert.match(second.stdout, '26 rows read, 26 imported (0 new, 1 updated, 25 unchanged)');
  const [jy] = await db.sql`select display_name from chat.me('jy')`;
  assert.is(jy?.display_name, 'Why');
});

test('import-users refuses a file it cannot read, or a header import_users does not take, in one line', async ({
  env,
  files,
}) => {
  const missing = await runCli(['import-users', path.join(files, 'nope.csv')], env);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /^microchatter: .*nope\.csv: no such file\n$/);

  const header = path.join(files, 'header.csv');
  await writeFile(header, 'user_id,password\nann,secret\n');
  const badHeader = await runCli(['import-users', header], env);
  assert.is(badHeader.code, 1);
  assert.match(badHeader.stderr, /^microchatter: line 1: .*unknown key password/);

  const text = path.join(files, 'users.txt');
  await writeFile(text, 'user_id\nann\n');
  const unknownFormat = await runCli(['import-users', text], env);
  assert.is(unknownFormat.code, 1);
  assert.match(unknownFormat.stderr, /--format/);
  const given = await runCli(['import-users', text, '--format', 'csv'], env);
  assert.is(given.code, 0, given.stderr);
});

test.run();
