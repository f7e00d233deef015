/**
 * push.needed: once per offline period after MICROCHATTER_PUSH_DELAY; not for muted conversations, a
 * blocked sender, a user who reads in time or has a stream open.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../server/config.ts';
import { startWorker, type Worker } from '../../server/jobs/worker.ts';
import { createUsers, sendIn, sendTo } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { type Receiver, startReceiver } from './receiver.ts';

const test = suite('webhooks: push.needed');
let db: TestDatabase;
let worker: Worker | undefined;
let receiver: Receiver;

const DELAY_S = 1;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Push {
  type: string;
  data: {
    user: string;
    unread: number;
    conversations: { conversation_id: number; unread: number; last_message: { body: string } }[];
  };
}
const pushes = (user: string) =>
  receiver
    .accepted()
    .map((r) => JSON.parse(r.body) as Push)
    .filter((p) => p.type === 'push.needed' && p.data.user === user);

test.before(async () => {
  db = await freshDatabase({ max: 6, webhookAllowPrivate: true });
  receiver = await startReceiver();
  await db.sql`select chat_admin.create_webhook(${receiver.url}, ${['push.needed']})`;
  worker = await startWorker(
    db.url,
    db.sql,
    loadConfig({
      MICROCHATTER_WEBHOOK_ALLOW_PRIVATE: 'true',
      MICROCHATTER_WORKER_CONCURRENCY: '4',
      MICROCHATTER_PUSH_DELAY: String(DELAY_S),
    }),
  );
});
test.after(async () => {
  await worker?.stop();
  await receiver.close();
  await db.drop();
});

test('fires once per offline period, coalesced over messages and conversations; reading starts a new period', async () => {
  await createUsers(db.sql, 'pat', 'quin', 'ray');
  const first = await sendTo(db.sql, 'quin', 'pat', 'one');
  await sendIn(db.sql, 'quin', first.conversation_id, 'two');
  const other = await sendTo(db.sql, 'ray', 'pat', 'three');
  await sleep(DELAY_S * 1000 + 1500);
  await sendIn(db.sql, 'quin', first.conversation_id, 'four, same offline period');
  await sleep(DELAY_S * 1000 + 1500);
  const got = pushes('pat');
  assert.is(got.length, 1, 'one push for the offline period');
  assert.is(got[0]?.data.unread, 3);
  assert.equal(
    got[0]?.data.conversations.map((c) => [c.conversation_id, c.unread]).sort(),
    [
      [Number(first.conversation_id), 2],
      [Number(other.conversation_id), 1],
    ].sort(),
  );
  // Reading ends the period: the next message pushes again.
  await db.sql`select chat.mark_read('pat', ${first.conversation_id})`;
  await sendIn(db.sql, 'quin', first.conversation_id, 'five');
  await sleep(DELAY_S * 1000 + 1500);
  assert.is(pushes('pat').length, 2);
  assert.is(pushes('pat')[1]?.data.conversations[0]?.last_message.body, 'five');
});

test('not for a muted conversation, nor a blocked sender', async () => {
  await createUsers(db.sql, 'mia', 'ned', 'ola');
  const muted = await sendTo(db.sql, 'ned', 'mia', 'hello');
  await db.sql`select chat.mark_read('mia', ${muted.conversation_id})`;
  await db.sql`select chat.set_muted('mia', ${muted.conversation_id})`;
  await db.sql`select chat.block_user('mia', 'ola')`;
  await sendIn(db.sql, 'ned', muted.conversation_id, 'muted one');
  const [{ conversation_id: group }] = await db.sql<{ conversation_id: string }[]>`
    select conversation_id from chat.create_group('ned', 'g', ${['mia', 'ola']})`;
  await db.sql`select chat.mark_read('mia', ${group})`;
  await sendIn(db.sql, 'ola', group, 'from someone blocked');
  await sleep(DELAY_S * 1000 + 1500);
  assert.is(pushes('mia').length, 0);
});

test('not when the user reads in time', async () => {
  await createUsers(db.sql, 'kim', 'lou');
  const sent = await sendTo(db.sql, 'lou', 'kim', 'quick');
  await db.sql`select chat.mark_read('kim', ${sent.conversation_id})`;
  await sleep(DELAY_S * 1000 + 1500);
  assert.is(pushes('kim').length, 0);
});

test('not while the user has a stream open on a live process; after going offline, the next message pushes', async () => {
  await createUsers(db.sql, 'ivy', 'jo');
  await db.sql`select chat_server.presence_heartbeat('test-process', 60000)`;
  await db.sql`select chat_server.presence_sync('test-process', ${['ivy']})`;
  const sent = await sendTo(db.sql, 'jo', 'ivy', 'while online');
  await sleep(DELAY_S * 1000 + 1500);
  assert.is(pushes('ivy').length, 0);
  await db.sql`select chat_server.presence_sync('test-process', ${[]}, ${['ivy']}, ${[new Date().toISOString()]})`;
  await sendIn(db.sql, 'jo', sent.conversation_id, 'after going offline');
  await sleep(DELAY_S * 1000 + 1500);
  assert.is(pushes('ivy').length, 1);
  assert.is(pushes('ivy')[0]?.data.conversations[0]?.last_message.body, 'after going offline');
});

test.run();
