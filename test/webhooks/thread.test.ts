/**
 * The job runner's thread (server/jobs/thread.ts), as `npm start` runs it: its jobs deliver, it
 * listens through the parent's one LISTEN connection (also after that connection is cut), it stops
 * leaving no connection behind, and a start that cannot reach the database fails with the reason.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../server/config.ts';
import { startWorkerThread } from '../../server/jobs/thread.ts';
import type { Worker } from '../../server/jobs/worker.ts';
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

test.before(async () => {
  db = await freshDatabase({ max: 4, webhookAllowPrivate: true });
  await createUsers(db.sql, 'ann', 'ben');
  receiver = await startReceiver();
  await db.sql`select chat_admin.create_webhook(${`${receiver.url}/hook`}, ${['message.created']})`;
  worker = await startWorkerThread({ databaseUrl: db.url, config, poolOptions }, db.sql);
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
