/**
 * Webhooks end to end: SQL writes the deliveries in the transaction of the change, the server's job
 * runner (graphile-worker, the code `npm start` runs) posts them to a real receiver on 127.0.0.1.
 */
import type http from 'node:http';
import { Webhook } from 'standardwebhooks';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../server/config.ts';
import { connectDatabase } from '../../server/db.ts';
import { startWorker, type Worker } from '../../server/jobs/worker.ts';
import { createUsers, expectCode, sendIn, sendTo } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { type Receiver, startReceiver } from './receiver.ts';

const test = suite('webhooks: delivery');
let db: TestDatabase;
let worker: Worker | undefined;
const receivers: Receiver[] = [];

const settings = {
  MICROCHATTER_WEBHOOK_ALLOW_PRIVATE: 'true',
  MICROCHATTER_WEBHOOK_RETRY_BASE_MS: '20',
  MICROCHATTER_WEBHOOK_RETRY_MAX_MS: '200',
  MICROCHATTER_WEBHOOK_TIMEOUT_MS: '1000',
  MICROCHATTER_WORKER_CONCURRENCY: '8',
};

async function receiver(answer?: Receiver['answer']): Promise<Receiver> {
  const r = await startReceiver(answer);
  receivers.push(r);
  return r;
}

interface CreatedWebhook {
  webhook_id: number;
  url: string;
  events: string[];
  secret: string;
}

async function subscribe(url: string, events: string[] = ['*'], secret: string | null = null) {
  const [webhook] = await db.sql<CreatedWebhook[]>`
    select * from chat_admin.create_webhook(${url}, ${events}, ${secret})`;
  if (!webhook) throw new Error('no webhook');
  return webhook;
}

const deliveries = (webhookId: number, failedOnly = false) =>
  db.sql<
    {
      status: string;
      attempts: number;
      response_status: number | null;
      last_error: string | null;
      webhook_message_id: string;
    }[]
  >`
    select * from chat_admin.list_webhook_deliveries(${webhookId}, ${failedOnly}, 200)`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test.before(async () => {
  db = await freshDatabase({ max: 8, webhookAllowPrivate: true });
  await createUsers(db.sql, 'ann', 'ben', 'cat');
  worker = await startWorker(db.url, db.sql, loadConfig(settings));
});
test.after(async () => {
  await worker?.stop();
  for (const r of receivers) await r.close();
  await db.drop();
});

test('a delivery is signed the Standard Webhooks way and carries {type, timestamp, data}', async () => {
  const r = await receiver();
  const webhook = await subscribe(`${r.url}/hook`, ['message.created']);
  assert.match(webhook.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
  const sent = await sendTo(db.sql, 'ann', 'ben', 'hello, hooks');
  const [got] = await r.waitForAccepted(1);
  assert.ok(got);
  assert.is(got.path, '/hook');
  assert.is(got.headers['content-type'], 'application/json');
  const verified = new Webhook(webhook.secret).verify(got.body, got.headers) as Record<string, unknown>;
  assert.is(verified.type, 'message.created');
  assert.type(verified.timestamp, 'string');
  const data = verified.data as { conversation_id: number; message: { body: string; seq: number } };
  assert.is(data.conversation_id, Number(sent.conversation_id));
  assert.is(data.message.body, 'hello, hooks');
  assert.match(got.headers['webhook-id'] ?? '', /^evt_\d+$/);
  // A different secret does not verify it.
  const other = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  assert.throws(() => new Webhook(other).verify(got.body, got.headers));
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
});

test('sixteen conversations posted at once: each stream waits on the run, and Node warns of no leak', async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
  process.on('warning', onWarning);
  let inFlight = 0;
  let most = 0;
  const r = await receiver(() => (_request, res) => {
    most = Math.max(most, ++inFlight);
    setTimeout(() => {
      inFlight--;
      res.statusCode = 204;
      res.end();
    }, 300);
  });
  const webhook = await subscribe(r.url, ['message.created']);
  const peers = Array.from({ length: 16 }, (_, i) => `peer${i}`);
  await createUsers(db.sql, ...peers);
  await Promise.all(peers.map((peer) => sendTo(db.sql, 'ann', peer, `to ${peer}`)));
  for (let i = 0; i < 100 && r.requests.length < peers.length; i++) await sleep(50);
  await sleep(400); // the last answers (each held 300 ms), and a warning's emit on the next tick
  process.off('warning', onWarning);
  assert.is(r.requests.length, peers.length, 'one post per conversation');
  assert.ok(most > 10, `more than ten posts in flight at once (${most})`);
  assert.equal(warnings, [], 'no MaxListenersExceededWarning (or any other)');
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
});

test('a receiver that answers 500 three times then 200 gets the event once, with one webhook-id', async () => {
  const r = await receiver((index) => (index < 3 ? 500 : 200));
  const webhook = await subscribe(r.url, ['message.created']);
  await sendTo(db.sql, 'ann', 'cat', 'try until it works');
  await r.waitForAccepted(1);
  await sleep(300);
  assert.is(r.accepted().length, 1);
  assert.is(r.requests.length, 4);
  assert.is(new Set(r.requests.map((q) => q.headers['webhook-id'])).size, 1);
  // Later attempts wait longer (exponential backoff).
  const [a, b, c, d] = r.requests.map((q) => q.at);
  assert.ok(a !== undefined && b !== undefined && c !== undefined && d !== undefined);
  const [delivery] = await deliveries(webhook.webhook_id);
  assert.equal([delivery?.status, delivery?.attempts, delivery?.response_status], ['delivered', 4, 200]);
  assert.is(delivery?.webhook_message_id, r.requests[0]?.headers['webhook-id']);
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
});

test('a rolled-back transaction sends nothing', async () => {
  const r = await receiver();
  const webhook = await subscribe(r.url, ['*']);
  await db.sql
    .begin(async (sql) => {
      await sql`select chat.send_message('ann', recipient => 'ben', body => 'never sent')`;
      throw new Error('roll back');
    })
    .catch(() => {});
  await sendTo(db.sql, 'ben', 'ann', 'sent');
  await r.waitForAccepted(1);
  await sleep(300);
  assert.equal(
    r
      .accepted()
      .map((q) => (JSON.parse(q.body) as { data: { message?: { body: string } } }).data.message?.body),
    ['sent'],
  );
  assert.not.match(JSON.stringify(await db.sql`select * from chat_private.webhook_deliveries`), 'never sent');
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
});

test('deliveries keep the order of each conversation; event types filter what is sent', async () => {
  const r = await receiver((index) => (index % 7 === 3 ? 503 : 200));
  const webhook = await subscribe(r.url, ['message.*']);
  const [group] = await db.sql`select * from chat.create_group('ann', 'Order', array['ben', 'cat'])`;
  const direct = await sendTo(db.sql, 'ben', 'cat', 'd0');
  await Promise.all([
    (async () => {
      for (let i = 1; i <= 40; i++) await sendIn(db.sql, 'ann', group?.conversation_id, `g${i}`);
    })(),
    (async () => {
      for (let i = 1; i <= 40; i++) await sendIn(db.sql, 'cat', direct.conversation_id, `d${i}`);
    })(),
  ]);
  await r.waitForAccepted(81);
  const seen = r
    .accepted()
    .map(
      (q) =>
        JSON.parse(q.body) as { type: string; data: { conversation_id: number; message: { seq: number } } },
    );
  assert.ok(
    seen.every((e) => e.type === 'message.created'),
    'conversation.* events were not subscribed',
  );
  for (const id of [Number(group?.conversation_id), Number(direct.conversation_id)]) {
    const seqs = seen.filter((e) => e.data.conversation_id === id).map((e) => e.data.message.seq);
    assert.equal(
      seqs,
      [...seqs].sort((x, y) => x - y),
      `conversation ${id} in seq order`,
    );
    assert.is(new Set(seqs).size, seqs.length, 'each once');
  }
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
});

test('a back-off in the middle of a stream of sends keeps every conversation in order, each delivery once', async () => {
  // The job is fetching by its cursor, with deliveries of several conversations queued, when one
  // conversation's delivery fails: that conversation's later deliveries must wait behind it.
  const r = await receiver((index) => (index === 25 ? 500 : 200));
  const webhook = await subscribe(r.url, ['message.created']);
  const chats = [
    await sendTo(db.sql, 'ann', 'ben', 'x0'),
    await sendTo(db.sql, 'ben', 'cat', 'y0'),
    await sendTo(db.sql, 'cat', 'ann', 'z0'),
  ];
  await Promise.all(
    chats.map(async (chat, k) => {
      for (let i = 1; i <= 30; i++)
        await sendIn(db.sql, ['ann', 'ben', 'cat'][k] ?? 'ann', chat.conversation_id, `m${i}`);
    }),
  );
  const seen = (await r.waitForAccepted(93, 10_000)).map(
    (q) => JSON.parse(q.body) as { data: { conversation_id: number; message: { seq: number } } },
  );
  for (const chat of chats) {
    const seqs = seen
      .filter((e) => e.data.conversation_id === Number(chat.conversation_id))
      .map((e) => e.data.message.seq);
    const first = seqs[0] ?? 0;
    assert.equal(
      seqs,
      Array.from({ length: 31 }, (_, n) => first + n),
      `conversation ${chat.conversation_id}: its 31 messages in order, once each`,
    );
  }
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
});

test('an event taken at the first attempt leaves no row, and is listed from the log as delivered', async () => {
  const r = await receiver();
  const webhook = await subscribe(r.url, ['message.created']);
  await sendTo(db.sql, 'ann', 'ben', 'before the read');
  const chat = await sendTo(db.sql, 'ben', 'cat', 'one');
  await db.sql`select chat.mark_read('cat', ${chat.conversation_id}, ${chat.seq})`;
  await sendIn(db.sql, 'cat', chat.conversation_id, 'two');
  const got = await r.waitForAccepted(3);
  const [{ rows }] = await db.sql<{ rows: number }[]>`
    select count(*)::int as rows from chat_private.webhook_deliveries where webhook_id = ${webhook.webhook_id}`;
  assert.is(rows, 0, 'posted straight from the log');
  let listed = await deliveries(webhook.webhook_id);
  for (let i = 0; i < 40 && listed.length < 3; i++) {
    await sleep(50); // the receiver has answered; the job records it a moment later
    listed = await deliveries(webhook.webhook_id);
  }
  assert.equal(
    listed.map((d) => [d.status, d.attempts, d.webhook_message_id]),
    got.reverse().map((q) => ['delivered', 1, q.headers['webhook-id']]),
    'newest first, with the webhook-id the receiver saw; the read was not wanted',
  );
  assert.is((await deliveries(webhook.webhook_id, true)).length, 0);
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
});

test('a report made while the job posts from the log: every event once, in order, the report after its message', async () => {
  // A slow receiver keeps deliveries in flight while the report takes the log into rows.
  const r = await receiver(() => (_q, res) => {
    setTimeout(() => {
      res.statusCode = 200;
      res.end();
    }, 3);
  });
  const webhook = await subscribe(r.url, ['message.created', 'message.reported']);
  const chat = await sendTo(db.sql, 'ann', 'ben', 'r0');
  for (let i = 1; i <= 40; i++) {
    const sent = await sendIn(db.sql, 'ann', chat.conversation_id, `r${i}`);
    if (i === 20)
      await db.sql`select chat.report_message('ben', ${chat.conversation_id}, ${sent.seq}, 'spam')`;
  }
  for (let i = 0; i < 200 && r.requests.length < 42; i++) await sleep(25);
  await sleep(200);
  const events = r.requests.map((q) => ({
    id: q.headers['webhook-id'],
    ...(JSON.parse(q.body) as { type: string; data: { seq?: number; message?: { body: string } } }),
  }));
  assert.is(events.length, 42, 'each event once');
  assert.is(new Set(events.map((e) => e.id)).size, 42);
  assert.equal(
    events.filter((e) => e.type === 'message.created').map((e) => e.data.message?.body),
    Array.from({ length: 41 }, (_, n) => `r${n}`),
  );
  const report = events.findIndex((e) => e.type === 'message.reported');
  const reported = events.findIndex((e) => e.data.message?.body === 'r20');
  assert.ok(report > reported, `the report (${report}) after its message (${reported})`);
  let pending = -1;
  for (let i = 0; i < 40 && pending !== 0; i++) {
    [{ pending }] = await db.sql<{ pending: number }[]>`
      select count(*)::int as pending from chat_private.webhook_deliveries
      where webhook_id = ${webhook.webhook_id} and status = 'pending'`;
    if (pending !== 0) await sleep(50);
  }
  assert.is(pending, 0, 'the rows of events posted from the log were marked delivered');
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
});

test('a report while one conversation lags: what other conversations delivered ahead of it goes once', async () => {
  // The first message of one chat is answered late; the other chat's messages reach the receiver
  // meanwhile, ahead of it in the log's order. The report then takes the log into rows from there.
  let release: (() => void) | undefined;
  const r = await receiver((_index, q) => {
    const event = JSON.parse(q.body) as { data: { message?: { body: string } } };
    if (event.data.message?.body !== 'lagging 0') return 200;
    return (_q, res) => {
      release = () => {
        res.statusCode = 200;
        res.end();
      };
    };
  });
  const webhook = await subscribe(r.url, ['message.created', 'message.reported']);
  const lagging = await sendTo(db.sql, 'ann', 'ben', 'lagging 0');
  const ahead = await sendTo(db.sql, 'cat', 'ann', 'ahead 1');
  for (let i = 2; i <= 5; i++) await sendIn(db.sql, 'cat', ahead.conversation_id, `ahead ${i}`);
  await r.waitForAccepted(5);
  for (let i = 0; i < 100 && !release; i++) await sleep(10);
  await sleep(150); // the job records what reached the receiver
  await db.sql`select chat.report_message('ben', ${lagging.conversation_id}, ${lagging.seq}, 'spam')`;
  await sleep(100);
  release?.();
  for (let i = 0; i < 100 && r.requests.length < 7; i++) await sleep(25);
  await sleep(300);
  const ids = r.requests.map((q) => q.headers['webhook-id']);
  const bodies = r.requests.map(
    (q) => (JSON.parse(q.body) as { type: string; data: { message?: { body: string } } }).data.message?.body,
  );
  assert.is(new Set(ids).size, ids.length, `each event once: ${bodies.join(', ')}`);
  assert.is(ids.length, 7);
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
});

test('a shutdown while one conversation lags: what reached the receiver ahead of it is not posted again', async () => {
  let hold = true;
  const r = await receiver((_index, q) => {
    const event = JSON.parse(q.body) as { data: { message?: { body: string } } };
    return hold && event.data.message?.body === 'held 0' ? 'hang' : 200;
  });
  const webhook = await subscribe(r.url, ['message.created']);
  // A timeout longer than the shutdown's grace: the held post is still in flight when it is aborted.
  await worker?.stop();
  worker = await startWorker(
    db.url,
    db.sql,
    loadConfig({ ...settings, MICROCHATTER_WEBHOOK_TIMEOUT_MS: '10000' }),
  );
  await sendTo(db.sql, 'ben', 'cat', 'held 0');
  const past = await sendTo(db.sql, 'cat', 'ann', 'past 1');
  for (let i = 2; i <= 4; i++) await sendIn(db.sql, 'cat', past.conversation_id, `past ${i}`);
  await r.waitForAccepted(4);
  await sleep(100); // the job records what reached the receiver
  await worker?.stop();
  hold = false;
  worker = await startWorker(db.url, db.sql, loadConfig(settings));
  await r.waitForAccepted(5);
  await sleep(300);
  const bodies = r
    .accepted()
    .map((q) => (JSON.parse(q.body) as { data: { message: { body: string } } }).data.message.body);
  assert.equal([...bodies].sort(), ['held 0', 'past 1', 'past 2', 'past 3', 'past 4']);
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
});

test('a database error in the middle of a run stops its conversations: none posts beside the next job', async () => {
  // Fault injection: once armed, the job's next fetch from the log fails. The function is replaced in
  // place (its prepared calls keep calling it), then put back.
  const [{ definition }] = await db.sql<{ definition: string }[]>`
    select pg_get_functiondef('chat_server.next_webhook_events(bigint, bigint[], integer[], bigint, bigint, integer)'::regprocedure) as definition`;
  // A sequence counts the calls (the failing call rolls back, its nextval does not); arming sets it to
  // 1000, and call 1001 fails.
  await db.sql`create sequence public.injected_fault_calls`;
  await db.sql`grant all on sequence public.injected_fault_calls to public`;
  await db.sql.unsafe(
    definition.replace(
      /\nbegin\n/,
      `\nbegin\n  if nextval('public.injected_fault_calls') = 1001 then raise exception 'injected fault'; end if;\n`,
    ),
  );
  try {
    // Per conversation, how many of its posts are in flight at once: one job posts them one by one.
    const inFlight = new Map<number, number>();
    let overlap = 0;
    const r = await receiver((_index, q) => {
      const conversation = (JSON.parse(q.body) as { data: { conversation_id: number } }).data.conversation_id;
      return (_q, res) => {
        const now = (inFlight.get(conversation) ?? 0) + 1;
        inFlight.set(conversation, now);
        overlap = Math.max(overlap, now);
        setTimeout(() => {
          inFlight.set(conversation, (inFlight.get(conversation) ?? 1) - 1);
          res.statusCode = 200;
          res.end();
        }, 80);
      };
    });
    const webhook = await subscribe(r.url, ['message.created']);
    const ann = await sendTo(db.sql, 'ann', 'cat', 'fault 0');
    const ben = await sendTo(db.sql, 'ben', 'cat', 'fault 0');
    for (let i = 0; i < 100 && r.requests.length < 2; i++) await sleep(10);
    // One commit, one fetch: each conversation has a queue of six.
    await db.sql.begin(async (tx) => {
      for (let i = 1; i <= 6; i++) {
        for (const [actor, chat] of [
          ['ann', ann],
          ['ben', ben],
        ] as const) {
          await tx`select from chat.send_message(${actor}, conversation_id => ${chat.conversation_id}, body => ${`fault ${i}`})`;
        }
      }
    });
    await sleep(250);
    // Its wake makes the job fetch while both queues post: that fetch fails.
    await db.sql`select setval('public.injected_fault_calls', 1000)`;
    const other = await sendTo(db.sql, 'ann', 'ben', 'fault other');
    await sleep(50);
    await sendIn(db.sql, 'ann', other.conversation_id, 'fault other 2');
    for (let i = 0; i < 300 && new Set(r.requests.map((q) => q.headers['webhook-id'])).size < 16; i++) {
      await sleep(25);
    }
    await sleep(300);
    const [{ calls }] = await db.sql<{ calls: number }[]>`
      select last_value as calls from public.injected_fault_calls`;
    assert.ok(calls > 1001, `the fault was met and the webhook went on (call ${calls})`);
    assert.is(new Set(r.requests.map((q) => q.headers['webhook-id'])).size, 16, 'every message arrived');
    assert.is(overlap, 1, 'no conversation had two posts in flight at once');
    await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
  } finally {
    await db.sql.unsafe(definition);
    await db.sql`drop sequence public.injected_fault_calls`;
  }
});

test('a webhook deleted while its job posts from the log gets nothing more than the post in flight', async () => {
  const r = await receiver(() => (_q, res) => {
    setTimeout(() => {
      res.statusCode = 200;
      res.end();
    }, 60);
  });
  const webhook = await subscribe(r.url, ['message.created']);
  const chat = await sendTo(db.sql, 'ann', 'ben', 'd0');
  for (let i = 1; i < 30; i++) await sendIn(db.sql, 'ann', chat.conversation_id, `d${i}`);
  for (let i = 0; i < 200 && r.requests.length < 3; i++) await sleep(10);
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
  const atDelete = r.requests.length;
  await sleep(800);
  assert.ok(r.requests.length <= atDelete + 1, `${r.requests.length - atDelete} posts after the delete`);
});

test('a conversation backing off holds back only itself, not the other conversations of its webhook', async () => {
  let refused = '';
  const r = await receiver((_index, q) => {
    const event = JSON.parse(q.body) as { data: { conversation_id: number } };
    return String(event.data.conversation_id) === refused ? 500 : 200;
  });
  const webhook = await subscribe(r.url, ['message.created']);
  const stuck = await sendTo(db.sql, 'ben', 'ann', 'stuck 0');
  const flowing = await sendTo(db.sql, 'cat', 'ann', 'flowing 0');
  await r.waitForAccepted(2);
  refused = String(stuck.conversation_id);
  for (let i = 1; i <= 5; i++) {
    await sendIn(db.sql, 'ben', stuck.conversation_id, `stuck ${i}`);
    await sendIn(db.sql, 'cat', flowing.conversation_id, `flowing ${i}`);
  }
  await r.waitForAccepted(7, 5_000);
  const stillPending = () => db.sql<{ attempts: number }[]>`
    select attempts from chat_private.webhook_deliveries
    where webhook_id = ${webhook.webhook_id} and status = 'pending' and stream = ${`c:${refused}`}
    order by delivery_id`;
  let pending = await stillPending();
  for (let i = 0; i < 40 && !pending[0]?.attempts; i++) {
    await sleep(50);
    pending = await stillPending();
  }
  assert.is(pending.length, 5, 'the refused conversation waits');
  assert.ok((pending[0]?.attempts ?? 0) > 0, 'its oldest delivery is retried');
  assert.equal(
    pending.slice(1).map((p) => p.attempts),
    [0, 0, 0, 0],
    'the later ones are not tried before it',
  );
  refused = '';
  const all = await r.waitForAccepted(12, 5_000);
  const stuckBodies = all
    .map((q) => (JSON.parse(q.body) as { data: { message: { body: string } } }).data.message.body)
    .filter((body) => body.startsWith('stuck'));
  assert.equal(stuckBodies, ['stuck 0', 'stuck 1', 'stuck 2', 'stuck 3', 'stuck 4', 'stuck 5']);
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
});

test('a dead endpoint does not hold up another one', async () => {
  const dead = await receiver(() => 'hang');
  const live = await receiver();
  const a = await subscribe(dead.url, ['message.created']);
  const b = await subscribe(live.url, ['message.created']);
  const [group] = await db.sql`select * from chat.create_group('ann', 'Many', array['ben', 'cat'])`;
  const sentAt = new Map<string, number>();
  for (let i = 0; i < 10; i++) {
    await sendTo(db.sql, 'ann', i % 2 ? 'ben' : 'cat', `to both ${i}`);
    sentAt.set(`to both ${i}`, Date.now());
    await sendIn(db.sql, 'ben', group?.conversation_id, `group ${i}`);
    sentAt.set(`group ${i}`, Date.now());
  }
  // Each webhook has a job of its own, so every delivery to the live endpoint goes out as it is sent.
  // Held up behind the dead endpoint even once, one would wait for one of its 1 s timeouts.
  const got = await live.waitForAccepted(20, 5_000);
  const lags = got.map((q) => {
    const body = (JSON.parse(q.body) as { data: { message: { body: string } } }).data.message.body;
    return q.at - (sentAt.get(body) ?? Number.NaN);
  });
  const worst = Math.max(...lags);
  assert.ok(worst < 800, `each delivery to the live endpoint within 800 ms of its send (worst ${worst} ms)`);
  assert.ok(dead.requests.length > 0, 'the dead endpoint was tried meanwhile');
  await db.sql`select chat_admin.delete_webhook(${a.webhook_id})`;
  await db.sql`select chat_admin.delete_webhook(${b.webhook_id})`;
});

test('no redirect is followed; a slow answer times out; an answer is read up to 64 KiB only', async () => {
  let redirectTargetHit = false;
  const target = await receiver(() => {
    redirectTargetHit = true;
    return 200;
  });
  let bigBytesWritten = 0;
  const r = await receiver((index) => {
    if (index === 0) {
      return (_q, res: http.ServerResponse) => {
        res.writeHead(307, { location: `${target.url}/elsewhere` });
        res.end();
      };
    }
    if (index === 1) return 'hang';
    return (_q, res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const write = () => {
        while (bigBytesWritten < 64 * 1024 * 1024) {
          bigBytesWritten += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', write);
        }
        res.end();
      };
      res.on('error', () => {});
      res.socket?.on('error', () => {});
      write();
    };
  });
  const webhook = await subscribe(r.url, ['message.created']);
  await sendTo(db.sql, 'cat', 'ben', 'redirected, then slow, then big');
  const deadline = Date.now() + 10_000;
  let delivery = (await deliveries(webhook.webhook_id))[0];
  while (delivery?.status !== 'delivered' && Date.now() < deadline) {
    await sleep(100);
    delivery = (await deliveries(webhook.webhook_id))[0];
  }
  assert.is(delivery?.status, 'delivered');
  assert.is(delivery?.attempts, 3);
  assert.is(r.requests.length, 3);
  assert.not.ok(redirectTargetHit, 'the Location was never requested');
  assert.ok(
    bigBytesWritten < 64 * 1024 * 1024,
    `the answer was cut short (${bigBytesWritten} bytes written)`,
  );
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
});

test('past the retry window a delivery is failed for good, listed, and the stream moves on', async () => {
  const short = await startWorker(
    db.url,
    db.sql,
    loadConfig({ ...settings, MICROCHATTER_WEBHOOK_RETRY_HOURS: '0' }),
  );
  await worker?.stop();
  worker = short;
  const r = await receiver((index) => (index === 0 ? 500 : 200));
  const webhook = await subscribe(r.url, ['message.created']);
  await sendTo(db.sql, 'ann', 'ben', 'refused');
  await sendTo(db.sql, 'ann', 'ben', 'accepted');
  await r.waitForAccepted(1);
  let failed = await deliveries(webhook.webhook_id, true);
  for (let i = 0; i < 50 && failed.length === 0; i++) {
    await sleep(50);
    failed = await deliveries(webhook.webhook_id, true);
  }
  assert.is(failed.length, 1);
  assert.equal([failed[0]?.status, failed[0]?.response_status], ['failed', 500]);
  assert.match(failed[0]?.last_error ?? '', '500');
  assert.is((await deliveries(webhook.webhook_id)).length, 2);
  // The receiver has answered; the job records it a moment later.
  let [listed] =
    await db.sql`select * from chat_admin.list_webhooks() where webhook_id = ${webhook.webhook_id}`;
  for (let i = 0; i < 50 && listed?.pending !== 0; i++) {
    await sleep(50);
    [listed] =
      await db.sql`select * from chat_admin.list_webhooks() where webhook_id = ${webhook.webhook_id}`;
  }
  assert.equal([listed?.pending, listed?.failed], [0, 1]);
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
  await worker?.stop();
  worker = await startWorker(db.url, db.sql, loadConfig(settings));
});

test('targets: http(s) only, no credentials, no private addresses unless allowed; unknown webhooks', async () => {
  const strict = connectDatabase(db.url, { max: 1 });
  try {
    for (const url of [
      'ftp://example.com/hook',
      'https://user:secret@example.com/hook',
      'http://127.0.0.1:8080/hook',
      'http://localhost/hook',
      'http://[::1]/hook',
      'http://10.0.0.7/hook',
      'http://192.168.1.1/hook',
      'http://169.254.169.254/latest/meta-data',
      'not a url',
    ]) {
      await expectCode(strict`select chat_admin.create_webhook(${url}, ${['*']})`, 'MCURL');
    }
    await strict`select chat_admin.create_webhook('https://hooks.example.com/in', ${['*']})`;
  } finally {
    await strict.end();
  }
  await expectCode(db.sql`select chat_admin.create_webhook('https://example.com', ${[]}::text[])`, 'MCARG');
  await expectCode(
    db.sql`select chat_admin.create_webhook('https://example.com', ${['*']}, 'plain')`,
    'MCARG',
  );
  await expectCode(db.sql`select chat_admin.delete_webhook(987654)`, 'MCNWH');
  await expectCode(db.sql`select * from chat_admin.list_webhook_deliveries(987654)`, 'MCNWH');
  await db.sql`delete from chat_private.webhooks`;
});

test('a host name that resolves to a private address is refused at delivery', async () => {
  const strictWorker = await startWorker(
    db.url,
    db.sql,
    loadConfig({
      ...settings,
      MICROCHATTER_WEBHOOK_ALLOW_PRIVATE: 'false',
      MICROCHATTER_WEBHOOK_RETRY_HOURS: '0',
    }),
  );
  await worker?.stop();
  worker = strictWorker;
  const r = await receiver();
  // Created through a connection that allows it (as one that does not would refuse localhost outright).
  const webhook = await subscribe(r.url.replace('127.0.0.1', 'localhost'), ['message.created']);
  await sendTo(db.sql, 'ben', 'cat', 'to localhost');
  let failed = await deliveries(webhook.webhook_id, true);
  for (let i = 0; i < 50 && failed.length === 0; i++) {
    await sleep(100);
    failed = await deliveries(webhook.webhook_id, true);
  }
  assert.match(failed[0]?.last_error ?? '', 'private address');
  assert.is(r.requests.length, 0);
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
  await worker?.stop();
  worker = await startWorker(db.url, db.sql, loadConfig(settings));
});

test('deliveries written while no worker runs go out when one starts', async () => {
  await worker?.stop();
  worker = undefined;
  const r = await receiver();
  const webhook = await subscribe(r.url, ['message.created']);
  // As psql on a database where graphile-worker is not installed yet: the outbox row alone.
  await db.sql`delete from graphile_worker._private_jobs where task_id = (select id from graphile_worker._private_tasks where identifier = 'deliver_webhooks')`;
  await sendTo(db.sql, 'cat', 'ann', 'while down');
  await db.sql`delete from graphile_worker._private_jobs where task_id = (select id from graphile_worker._private_tasks where identifier = 'deliver_webhooks')`;
  worker = await startWorker(db.url, db.sql, loadConfig(settings));
  await r.waitForAccepted(1);
  await db.sql`select chat_admin.delete_webhook(${webhook.webhook_id})`;
});

test.run();
