/** Moderation: the policy hook, reports (and their webhook), removal, suspension on every writing path. */
import { readdirSync, readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../server/config.ts';
import { startWorker, type Worker } from '../../server/jobs/worker.ts';
import { createUsers, expectCode, sendIn, sendTo } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { startReceiver } from './receiver.ts';

const test = suite('moderation');
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase({ max: 6, webhookAllowPrivate: true });
  await createUsers(db.sql, 'ann', 'ben', 'cat', 'dan');
});
test.after(async () => db.drop());

test('the policy hook rewrites and refuses sends and edits; a broken hook is MCMOD, never a 500', async () => {
  await db.sql.unsafe(`
    create or replace function chat_policy.before_send(actor text, conversation_id bigint, body text)
    returns text language plpgsql as $$
    begin
      if body ~* '\\mspam\\M' then
        raise exception using errcode = 'MCMOD', message = 'no spam';
      end if;
      if body = 'crash' then
        perform 1 / 0;
      end if;
      return regexp_replace(body, '\\mdarn\\M', '****', 'gi');
    end $$`);
  try {
    const sent = await sendTo(db.sql, 'ann', 'ben', 'darn it');
    assert.is(sent.body, '**** it');
    await expectCode(sendTo(db.sql, 'ann', 'ben', 'buy spam now'), 'MCMOD');
    await expectCode(sendTo(db.sql, 'ann', 'ben', 'crash'), 'MCMOD');
    const [edited] =
      await db.sql`select * from chat.edit_message('ann', ${sent.conversation_id}, ${sent.seq}, 'darn again')`;
    assert.is(edited?.body, '**** again');
    await expectCode(
      db.sql`select chat.edit_message('ann', ${sent.conversation_id}, ${sent.seq}, 'spam')`,
      'MCMOD',
    );
  } finally {
    await db.sql`create or replace function chat_policy.before_send(actor text, conversation_id bigint, body text)
      returns text language sql stable as $$ select body $$`;
  }
});

test('reports: once per user, only of messages one can see, a message.reported webhook, resolved', async () => {
  const worker: Worker | undefined = await startWorker(
    db.url,
    db.sql,
    loadConfig({ MICROCHATTER_WEBHOOK_ALLOW_PRIVATE: 'true', MICROCHATTER_WORKER_CONCURRENCY: '2' }),
  );
  const receiver = await startReceiver();
  try {
    await db.sql`select chat_admin.create_webhook(${receiver.url}, ${['message.reported']})`;
    const bad = await sendTo(db.sql, 'cat', 'dan', 'something nasty');
    const [report] =
      await db.sql`select * from chat.report_message('dan', ${bad.conversation_id}, ${bad.seq}, 'abuse')`;
    assert.is(report?.status, 'open');
    await expectCode(
      db.sql`select chat.report_message('dan', ${bad.conversation_id}, ${bad.seq}, 'again')`,
      'MCRPT',
    );
    await expectCode(
      db.sql`select chat.report_message('ann', ${bad.conversation_id}, ${bad.seq}, 'nosy')`,
      'MCNMS',
    );
    await expectCode(db.sql`select chat.report_message('dan', ${bad.conversation_id}, 99, 'none')`, 'MCNMS');
    const [hook] = await receiver.waitForAccepted(1);
    const event = JSON.parse(hook?.body ?? '{}') as { type: string; data: Record<string, unknown> };
    assert.is(event.type, 'message.reported');
    assert.equal([event.data.reporter, event.data.reason, event.data.seq], ['dan', 'abuse', Number(bad.seq)]);

    const open = await db.sql`select * from chat_admin.list_reports()`;
    assert.equal(
      open.map((r) => [r.sender, r.reporter, r.report_status, r.message.body]),
      [['cat', 'dan', 'open', 'something nasty']],
    );
    await db.sql`select chat_admin.resolve_report(${report?.report_id}, 'remove_message')`;
    assert.is((await db.sql`select * from chat_admin.list_reports()`).length, 0);
    const [resolved] = await db.sql`select * from chat_admin.list_reports('resolved')`;
    assert.equal(
      [resolved?.action, resolved?.message.body, resolved?.message.deleted_at !== null],
      ['remove_message', '', true],
    );
    await expectCode(db.sql`select chat_admin.resolve_report(424242, 'dismiss')`, 'MCNRP');
  } finally {
    await worker?.stop();
    await receiver.close();
  }
});

test('remove_message leaves the delete_message tombstone and keeps the reason for admins', async () => {
  const sent = await sendTo(db.sql, 'ann', 'cat', 'remove me');
  await db.sql`select chat.react('cat', ${sent.conversation_id}, ${sent.seq}, '👍')`;
  const [tomb] =
    await db.sql`select * from chat_admin.remove_message(${sent.conversation_id}, ${sent.seq}, 'off topic')`;
  assert.equal([tomb?.body, tomb?.reactions, tomb?.deleted_at !== null], ['', [], true]);
  const [event] = await db.sql`select type from chat_private.events order by position desc limit 1`;
  assert.is(event?.type, 'message.deleted');
  const [removal] =
    await db.sql`select reason from chat_private.message_removals order by removed_at desc limit 1`;
  assert.is(removal?.reason, 'off topic');
  await expectCode(db.sql`select chat_admin.remove_message(${sent.conversation_id}, 999, 'x')`, 'MCNMS');
});

test('a suspended user reads and receives but every writing path is refused with MCSUS', async () => {
  const direct = await sendTo(db.sql, 'ben', 'dan', 'before');
  const [group] = await db.sql`select * from chat.create_group('ben', 'Crew', array['dan'])`;
  await db.sql`select chat_admin.suspend_user('ben')`;
  const c = direct.conversation_id;
  await expectCode(sendTo(db.sql, 'ben', 'dan', 'after'), 'MCSUS');
  await expectCode(sendIn(db.sql, 'ben', group?.conversation_id, 'after'), 'MCSUS');
  await expectCode(db.sql`select chat.edit_message('ben', ${c}, ${direct.seq}, 'edited')`, 'MCSUS');
  await expectCode(db.sql`select chat.react('ben', ${c}, ${direct.seq}, '👍')`, 'MCSUS');
  await expectCode(db.sql`select chat.unreact('ben', ${c}, ${direct.seq}, '👍')`, 'MCSUS');
  await expectCode(db.sql`select chat.create_group('ben', 'New', array['dan'])`, 'MCSUS');
  await expectCode(db.sql`select chat.add_members('ben', ${group?.conversation_id}, array['cat'])`, 'MCSUS');
  await expectCode(
    db.sql`select chat.rename_conversation('ben', ${group?.conversation_id}, 'Renamed')`,
    'MCSUS',
  );
  // Reading and receiving go on.
  await sendTo(db.sql, 'dan', 'ben', 'you can still read this');
  const messages = await db.sql`select * from chat.list_messages('ben', ${c})`;
  assert.ok(messages.some((m) => m.body === 'you can still read this'));
  await db.sql`select chat.mark_read('ben', ${c})`;
  // A suspension with an end runs out by itself; unsuspend ends one at once.
  await db.sql`select chat_admin.suspend_user('ben', now() - interval '1 second')`;
  await sendTo(db.sql, 'ben', 'dan', 'back');
  await db.sql`select chat_admin.suspend_user('ben', now() + interval '1 hour')`;
  await expectCode(sendTo(db.sql, 'ben', 'dan', 'not yet'), 'MCSUS');
  await db.sql`select chat_admin.unsuspend_user('ben')`;
  await sendTo(db.sql, 'ben', 'dan', 'back again');
  await expectCode(db.sql`select chat_admin.suspend_user('nobody')`, 'MCUNU');
});

test("applying the moderation migration again keeps a site's own hook", async () => {
  const file = readdirSync('migrations/committed').find((name) => name.startsWith('000017-'));
  const migration = readFileSync(`migrations/committed/${file}`, 'utf8');
  const guard = /do \$do\$[\s\S]*?\$do\$;/.exec(migration)?.[0];
  assert.ok(guard, 'the hook is created inside a guarded DO block');
  await db.sql`create or replace function chat_policy.before_send(actor text, conversation_id bigint, body text)
    returns text language sql stable as $$ select upper(body) $$`;
  try {
    await db.sql.unsafe(guard);
    assert.is((await sendTo(db.sql, 'cat', 'ann', 'still mine')).body, 'STILL MINE');
  } finally {
    await db.sql`create or replace function chat_policy.before_send(actor text, conversation_id bigint, body text)
      returns text language sql stable as $$ select body $$`;
  }
});

test.run();
