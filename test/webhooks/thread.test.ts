/**
 * The job runner's thread (server/jobs/thread.ts), as `npm start` runs it: its jobs deliver, it
 * listens through the parent's one LISTEN connection (also after that connection is cut; the log's
 * channel only while there are webhooks), it stops
 * leaving no connection behind, and a start that cannot reach the database fails with the reason.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../server/config.ts';
import type { Sql } from '../../server/db.ts';
import { EVENTS_CHANNEL } from '../../server/events/relay.ts';
import { startWorkerThread } from '../../server/jobs/thread.ts';
import type { Worker } from '../../server/jobs/worker.ts';
import { WEBHOOKS_CHANNEL } from '../../server/webhooks/wake.ts';
import { createUsers, sendTo } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { type Receiver, startReceiver } from './receiver.ts';

const test = suite('webhooks: the job runner thread');
let db: TestDatabase;
let receiver: Receiver;
let worker: Worker | undefined;

const config = loadConfig({
  MICROCHATTER_WEBHOOK_ALLOW_PRIVATE: 'true',
  MICROCHATTER_WORKER_CONCURRENCY: '4',
});
const poolOptions = { webhookAllowPrivate: true };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Backends of this database that last ran a LISTEN, i.e. listening connections. */
const listening = () =>
  db.sql<{ pid: number; application_name: string }[]>`
    select pid, application_name from pg_stat_activity
    where datname = current_database() and query ilike 'listen %' and pid <> pg_backend_pid()`;

/** The channels the parent listens on for the thread: its real listens, counted as they come and go. */
const forwarded = new Set<string>();
const countingListens = (sql: Sql) =>
  ({
    listen: async (channel: string, onNotify: (payload: string) => void, onListen?: () => void) => {
      const listener = await sql.listen(channel, onNotify, onListen);
      forwarded.add(channel);
      return {
        ...listener,
        unlisten: () => {
          forwarded.delete(channel);
          return listener.unlisten();
        },
      };
    },
  }) as unknown as Sql;

const createWebhook = async () => {
  const [row] = await db.sql<{ webhook_id: number }[]>`
    select webhook_id from chat_admin.create_webhook(${`${receiver.url}/hook`}, ${['message.created']})`;
  return Number(row?.webhook_id);
};

let webhookId: number;
test.before(async () => {
  db = await freshDatabase({ max: 4, webhookAllowPrivate: true });
  await createUsers(db.sql, 'ann', 'ben');
  receiver = await startReceiver();
  webhookId = await createWebhook();
  worker = await startWorkerThread({ databaseUrl: db.url, config, poolOptions }, countingListens(db.sql));
});
test.after(async () => {
  await worker?.stop();
  await receiver.close();
  await db.drop();
});

test('its jobs deliver, and it listens through the parent: one LISTEN connection of ours', async () => {
  const sent = await sendTo(db.sql, 'ann', 'ben', 'from the thread');
  const [got] = await receiver.waitForAccepted(1);
  assert.is(JSON.parse(got?.body ?? '{}').data.message.seq, sent.seq);
  // graphile-worker's pool (microchatter-worker-<pid>) listens for its own jobs.
  const ours = (await listening()).filter((row) => !row.application_name.startsWith('microchatter-worker-'));
  assert.equal(
    ours.map((row) => row.application_name),
    ['microchatter'],
    'the parent listens for the thread, on its one connection',
  );
});

test('after the parent LISTEN connection is cut, notifications reach the thread again', async () => {
  const [ours] = (await listening()).filter((row) => row.application_name === 'microchatter');
  assert.ok(ours);
  await db.sql`select pg_terminate_backend(${ours.pid})`;
  // postgres.js listens again on a new connection; until then a send's wake is made up by the sweep.
  for (let i = 0; i < 100 && (await listening()).every((row) => row.pid === ours.pid); i++) await sleep(50);
  const before = receiver.accepted().length;
  await sendTo(db.sql, 'ann', 'ben', 'after the reconnect');
  const got = await receiver.waitForAccepted(before + 1, 5_000);
  assert.match(got.at(-1)?.body ?? '', /after the reconnect/);
});

test("the log's notifications cross to the thread only while there are webhooks", async () => {
  const until = async (what: string, done: () => boolean) => {
    for (let i = 0; i < 100 && !done(); i++) await sleep(50);
    assert.ok(done(), what);
  };
  await until('heard with a webhook', () => forwarded.has(EVENTS_CHANNEL));
  await db.sql`select chat_admin.delete_webhook(${webhookId})`;
  await until('not heard without one', () => !forwarded.has(EVENTS_CHANNEL));
  assert.ok(forwarded.has(WEBHOOKS_CHANNEL), 'webhook changes are still heard');
  await sendTo(db.sql, 'ann', 'ben', 'while there is no webhook');
  webhookId = await createWebhook();
  await until('heard again once one is created', () => forwarded.has(EVENTS_CHANNEL));
  const before = receiver.accepted().length;
  await sendTo(db.sql, 'ann', 'ben', 'to the new webhook');
  const got = await receiver.waitForAccepted(before + 1, 5_000);
  assert.match(got.at(-1)?.body ?? '', /to the new webhook/);
});

test("stop() ends the thread, its pool and graphile-worker's", async () => {
  await worker?.stop();
  worker = undefined;
  const [left] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from pg_stat_activity
    where datname = current_database() and pid <> pg_backend_pid()
      and (application_name = 'microchatter-jobs' or application_name like 'microchatter-worker-%')`;
  assert.is(left?.n, 0);
});

test('a thread that cannot reach its database fails to start, saying why', async () => {
  const unreachable = { databaseUrl: 'postgres://postgres@127.0.0.1:1/nowhere', config, poolOptions };
  const started = Date.now();
  try {
    await startWorkerThread(unreachable, db.sql);
    assert.unreachable('started');
  } catch (error) {
    assert.instance(error, Error);
    assert.match((error as Error).message, /ECONNREFUSED|connect/i);
  }
  assert.ok(Date.now() - started < 15_000);
});

test.run();
