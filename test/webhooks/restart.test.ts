/**
 * Webhook deliveries across restarts: 1,000 sends reach a webhook in order per conversation, once each,
 * across a graceful restart; a process killed mid-delivery holds its stream back for about one lease.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createUsers, sendIn, sendTo } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { type ServerProcess, startServerProcess } from '../helpers/server-process.ts';
import { startReceiver } from './receiver.ts';

const test = suite('webhooks: across a restart');
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase({ max: 6, webhookAllowPrivate: true });
  await createUsers(db.sql, 'ann', 'ben', 'cat', 'dan');
});
test.after(async () => db.drop());

const env = {
  MICROCHATTER_WEBHOOK_ALLOW_PRIVATE: 'true',
  MICROCHATTER_WEBHOOK_RETRY_BASE_MS: '20',
  MICROCHATTER_WEBHOOK_RETRY_MAX_MS: '200',
  MICROCHATTER_WORKER_LEASE_SECONDS: '3',
};

test('1,000 sends, 1,000 deliveries, in order per conversation, the server restarted halfway', async () => {
  const receiver = await startReceiver((index) => (index % 97 === 5 ? 500 : 200));
  const [webhook] = await db.sql<{ webhook_id: number }[]>`
    select * from chat_admin.create_webhook(${receiver.url}, ${['message.created']})`;
  const conversations = [
    (await sendTo(db.sql, 'ann', 'ben', 'c0')).conversation_id,
    (await sendTo(db.sql, 'cat', 'dan', 'c1')).conversation_id,
    (await sendTo(db.sql, 'ann', 'dan', 'c2')).conversation_id,
    (await sendTo(db.sql, 'ben', 'cat', 'c3')).conversation_id,
  ];
  const senders = ['ann', 'cat', 'ann', 'ben'];
  let server: ServerProcess | undefined;
  try {
    server = await startServerProcess(db, env);
    for (let i = 4; i < 1000; i++) {
      const k = i % 4;
      await sendIn(db.sql, senders[k] ?? 'ann', conversations[k] ?? 0, `m${i}`);
      if (i === 500) {
        assert.is(await server?.stop(), 0, 'stopped gracefully within 5 s');
        server = undefined;
      }
      if (i === 700) server = await startServerProcess(db, env);
    }
    server ??= await startServerProcess(db, env);
    const accepted = await receiver.waitForAccepted(1000, 60_000);
    const events = accepted.map(
      (r) => JSON.parse(r.body) as { data: { conversation_id: number; message: { seq: number } } },
    );
    const ids = new Set(accepted.map((r) => r.headers['webhook-id']));
    assert.is(ids.size, 1000, 'each delivered once');
    for (const id of conversations) {
      const seqs = events.filter((e) => e.data.conversation_id === Number(id)).map((e) => e.data.message.seq);
      assert.is(seqs.length, 250);
      assert.equal(
        seqs,
        [...seqs].sort((a, b) => a - b),
        `conversation ${id} in order`,
      );
    }
  } finally {
    await server?.stop();
    await receiver.close();
  }
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
});

test('a process killed mid-delivery: its stream goes on from another process after about one lease', async () => {
  let hang = true;
  const receiver = await startReceiver(() => (hang ? 'hang' : 200));
  const [webhook] = await db.sql<{ webhook_id: number }[]>`
    select * from chat_admin.create_webhook(${receiver.url}, ${['message.created']})`;
  let server: ServerProcess | undefined = await startServerProcess(db, {
    ...env,
    MICROCHATTER_WEBHOOK_TIMEOUT_MS: '60000',
  });
  const other = await startServerProcess(db, env);
  try {
    const { conversation_id } = await sendTo(db.sql, 'ann', 'ben', 'first');
    await sendIn(db.sql, 'ann', conversation_id, 'second');
    const deadline = Date.now() + 10_000;
    while (receiver.requests.length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.is(receiver.requests.length, 1, 'the first delivery is in flight');
    const [locked] = await db.sql`select locked_by from graphile_worker.jobs where locked_by is not null`;
    assert.ok(locked, 'its job is locked');
    hang = false;
    const killedAt = Date.now();
    server.child.kill('SIGKILL');
    server = undefined;
    const accepted = await receiver.waitForAccepted(2, 20_000);
    const bodies = accepted.map(
      (r) => (JSON.parse(r.body) as { data: { message: { body: string } } }).data.message.body,
    );
    assert.equal(bodies, ['first', 'second'], 'in order, from the other process');
    const waited = Date.now() - killedAt;
    assert.ok(waited < 12_000, `resumed ${waited} ms after the kill (lease 3 s)`);
  } finally {
    await server?.stop();
    await other.stop();
    await receiver.close();
  }
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
});

test.run();
