/**
 * The attachment store the HTTP layer streams through (chat_server.*): uploads in bytea chunks,
 * finishing, abandoning, pruning, and who may read one back.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createUsers, expectCode } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('sql: attachment store');
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase();
  await createUsers(db.sql, 'alice', 'bob', 'carol');
});
test.after(async () => db.drop());

async function upload(uploader: string, name: string, ...chunks: Buffer[]): Promise<string> {
  const [row] = await db.sql<{ id: string }[]>`
    select chat_server.begin_attachment(${uploader}, ${name}, 'text/plain') as id`;
  const id = row?.id ?? '';
  for (const [index, chunk] of chunks.entries()) {
    await db.sql`select chat_server.append_attachment_chunk(${id}, ${index}, ${chunk})`;
  }
  return id;
}

test('chunks are stored, finished into {attachment_id, name, content_type, size} and read back', async () => {
  const id = await upload('alice', 'notes.txt', Buffer.from('hello '), Buffer.from('world'));
  const [finished] = await db.sql`select chat_server.finish_attachment(${id}) as a`;
  assert.equal(finished?.a, { attachment_id: id, name: 'notes.txt', content_type: 'text/plain', size: 11 });
  const [meta] = await db.sql`select * from chat_server.attachment_for_reader('alice', ${id})`;
  assert.equal({ ...meta }, { name: 'notes.txt', content_type: 'text/plain', size: 11, chunks: 2 });
  const [chunk] = await db.sql`select chat_server.read_attachment_chunk(${id}, 1) as data`;
  assert.is(Buffer.from(chunk?.data).toString(), 'world');
  // Finished: no more chunks, no second finish.
  await expectCode(db.sql`select chat_server.append_attachment_chunk(${id}, 2, '\\x00'::bytea)`, 'MCATT');
  await expectCode(db.sql`select chat_server.finish_attachment(${id})`, 'MCATT');
});

test('an unattached upload is for its uploader only', async () => {
  const id = await upload('alice', 'mine.txt', Buffer.from('x'));
  await db.sql`select chat_server.finish_attachment(${id})`;
  assert.is((await db.sql`select * from chat_server.attachment_for_reader('bob', ${id})`).length, 0);
  // Nor is an unfinished upload readable, even by its uploader.
  const pending = await upload('alice', 'pending.txt', Buffer.from('y'));
  assert.is((await db.sql`select * from chat_server.attachment_for_reader('alice', ${pending})`).length, 0);
});

test('names: path separators, control characters, blank, too long are refused; odd types become octet-stream', async () => {
  for (const name of ['a/b', 'a\\b', 'a\nb', '', '   ', '..', 'x'.repeat(256), 'é'.repeat(128)]) {
    await expectCode(db.sql`select chat_server.begin_attachment('alice', ${name}, 'text/plain')`, 'MCANM');
  }
  await expectCode(db.sql`select chat_server.begin_attachment('nobody', 'a.txt', 'text/plain')`, 'MCUNU');
  const types: [string | null, string][] = [
    ['image/png', 'image/png'],
    ['text/html; charset=utf-8', 'text/html; charset=utf-8'],
    ['not a type', 'application/octet-stream'],
    [null, 'application/octet-stream'],
    [`text/${'x'.repeat(130)}`, 'application/octet-stream'],
    ['text/plain\r\nX-Injected: 1', 'application/octet-stream'],
  ];
  for (const [given, stored] of types) {
    const [row] = await db.sql`select chat_server.begin_attachment('alice', 'f', ${given}) as id`;
    const [meta] =
      await db.sql`select content_type from chat_private.attachments where attachment_id = ${row?.id}`;
    assert.is(meta?.content_type, stored, String(given));
  }
});

test('an NFD uploader is the NFC user', async () => {
  await createUsers(db.sql, 'zoé');
  const id = await upload('zoe\u0301', 'a.txt', Buffer.from('z'));
  await db.sql`select chat_server.finish_attachment(${id})`;
  assert.is((await db.sql`select * from chat_server.attachment_for_reader('zoé', ${id})`).length, 1);
});

test('an empty upload is refused; abandoning deletes an unfinished upload and its chunks', async () => {
  const empty = await upload('alice', 'empty.txt');
  await expectCode(db.sql`select chat_server.finish_attachment(${empty})`, 'MCAEM');
  await db.sql`select chat_server.abandon_attachment(${empty})`;
  const big = await upload('alice', 'big.bin', Buffer.alloc(1000), Buffer.alloc(1000));
  await db.sql`select chat_server.abandon_attachment(${big})`;
  await db.sql`select chat_server.abandon_attachment(${big})`; // twice: nothing to do
  const [left] = await db.sql`
    select (select count(*) from chat_private.attachments where attachment_id in (${empty}, ${big}))::int as rows,
           (select count(*) from chat_private.attachment_chunks where attachment_id in (${empty}, ${big}))::int as chunks`;
  assert.equal({ ...left }, { rows: 0, chunks: 0 });
});

test('prune_attachments deletes old unattached uploads, finished or not, and counts them', async () => {
  await db.sql`delete from chat_private.attachments`;
  const old = await upload('bob', 'old.txt', Buffer.from('o'));
  await db.sql`select chat_server.finish_attachment(${old})`;
  await upload('bob', 'old-unfinished.txt', Buffer.from('u'));
  const fresh = await upload('bob', 'fresh.txt', Buffer.from('f'));
  await db.sql`update chat_private.attachments set created_at = now() - interval '25 hours' where attachment_id <> ${fresh}`;
  const [pruned] = await db.sql`select chat_server.prune_attachments() as n`;
  assert.is(pruned?.n, 2);
  const rest = await db.sql`select attachment_id from chat_private.attachments`;
  assert.equal(
    rest.map((r) => r.attachment_id),
    [fresh],
  );
});

test('only the server role may call the attachment functions', async () => {
  const [row] = await db.sql`
    select bool_and(has_function_privilege('microchatter_app', p.oid, 'execute')) as app,
           bool_or(has_function_privilege('public', p.oid, 'execute')) as public
    from pg_proc p
    where p.pronamespace = 'chat_server'::regnamespace and p.proname like '%attachment%'`;
  assert.equal({ ...row }, { app: true, public: false });
});

test.run();
