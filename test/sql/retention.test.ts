/** Retention: old messages become tombstones, old events and settled webhook deliveries are pruned, both by cron jobs. */
import { parseCrontab } from 'graphile-worker';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../server/config.ts';
import { crontab, taskList } from '../../server/jobs/worker.ts';
import { createUsers, expectCode, sendIn, sendTo } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('retention');
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase({ max: 4 });
  await createUsers(db.sql, 'ann', 'ben');
});
test.after(async () => db.drop());

test('messages older than the retention become tombstones, newer ones stay; 0 keeps them for ever', async () => {
  const first = await sendTo(db.sql, 'ann', 'ben', 'old one');
  await db.sql`select chat.edit_message('ann', ${first.conversation_id}, ${first.seq}, 'old one, edited')`;
  await sendIn(db.sql, 'ben', first.conversation_id, 'old two');
  await sendIn(db.sql, 'ann', first.conversation_id, 'new');
  await db.sql`
    update chat_private.messages set sent_at = now() - interval '40 days'
    where conversation_id = ${first.conversation_id} and seq <= 2`;
  const [{ none }] = await db.sql<{ none: number }[]>`select chat_server.apply_message_retention(0) as none`;
  assert.is(none, 0, '0 keeps for ever');
  const [{ unset }] = await db.sql<
    { unset: number }[]
  >`select chat_server.apply_message_retention() as unset`;
  assert.is(unset, 0, 'no setting keeps for ever');
  const [{ n }] = await db.sql<{ n: number }[]>`select chat_server.apply_message_retention(30, 1) as n`;
  assert.is(n, 1, 'one batch of one');
  const config = loadConfig({ MICROCHATTER_MESSAGE_RETENTION_DAYS: '30' });
  const helpers = { abortSignal: new AbortController().signal, logger: { info() {} } };
  await taskList(db.sql, config).apply_message_retention?.({}, helpers as never);
  const rows = await db.sql<{ seq: number; body: string; deleted_at: string | null }[]>`
    select seq, body, deleted_at from chat.list_messages('ben', ${first.conversation_id}) order by seq`;
  assert.equal(
    rows.map((r) => [r.seq, r.body, r.deleted_at !== null]),
    [
      [1, '', true],
      [2, '', true],
      [3, 'new', false],
    ],
  );
  const [{ edits }] = await db.sql<
    { edits: number }[]
  >`select count(*)::int as edits from chat_private.message_edits`;
  assert.is(edits, 0, 'edit history deleted');
});

test('the database setting microchatter.message_retention_days is read when no days are given', async () => {
  const sent = await sendTo(db.sql, 'ben', 'ann', 'by the setting');
  await db.sql`update chat_private.messages set sent_at = now() - interval '3 days' where message_id = ${sent.id}`;
  const [{ n }] = await db.sql.begin(
    (sql) => sql<{ n: number }[]>`
      select set_config('microchatter.message_retention_days', '2', true), chat_server.apply_message_retention() as n`,
  );
  assert.is(n, 1);
});

test('event retention prunes old events and delivered or failed deliveries, never pending ones', async () => {
  const [webhook] = await db.sql<{ webhook_id: number }[]>`
    select * from chat_admin.create_webhook('https://hooks.example.com/in', ${['*']})`;
  const sent = await sendTo(db.sql, 'ann', 'ben', 'hooked');
  await sendIn(db.sql, 'ann', sent.conversation_id, 'hooked again');
  await sendIn(db.sql, 'ann', sent.conversation_id, 'and again');
  // What the webhook's job does first: take the new events of the log into deliveries.
  await db.sql`select chat_private.take_webhook_events(${webhook?.webhook_id ?? 0})`;
  const ids = (
    await db.sql<{ delivery_id: number }[]>`
      select delivery_id from chat_private.webhook_deliveries where webhook_id = ${webhook?.webhook_id} order by delivery_id`
  ).map((r) => r.delivery_id);
  assert.is(ids.length, 3);
  await db.sql`select chat_server.webhook_delivered(${ids[0] ?? 0}, 200)`;
  await db.sql`update chat_private.webhook_deliveries set status = 'failed', last_attempt_at = now() where delivery_id = ${ids[1] ?? 0}`;
  await db.sql`
    update chat_private.webhook_deliveries set delivered_at = now() - interval '40 days',
      last_attempt_at = now() - interval '40 days', occurred_at = now() - interval '40 days'`;
  await db.sql`update chat_private.events set created_at = now() - interval '40 days'`;
  const config = loadConfig({ MICROCHATTER_EVENT_RETENTION_DAYS: '30' });
  const helpers = { abortSignal: new AbortController().signal, logger: { info() {} } };
  await taskList(db.sql, config).prune_events?.({}, helpers as never);
  const left = await db.sql<{ delivery_id: number; status: string }[]>`
    select delivery_id, status from chat_private.webhook_deliveries where webhook_id = ${webhook?.webhook_id}`;
  assert.equal(
    left.map((r) => r.status),
    ['pending'],
  );
  const [{ events }] = await db.sql<
    { events: number }[]
  >`select count(*)::int as events from chat_private.events`;
  assert.is(events, 0);
});

test('past the retention an event held in the log for another webhook is not listed as delivered', async () => {
  const webhook = async (url: string) =>
    Number(
      (
        await db.sql<{ webhook_id: number }[]>`
          select webhook_id from chat_admin.create_webhook(${url}, ${['message.created']})`
      )[0]?.webhook_id,
    );
  const behind = await webhook('https://hooks.example.com/behind');
  const failing = await webhook('https://hooks.example.com/failing');
  await sendTo(db.sql, 'ann', 'ben', 'old and failed');
  // The failing webhook took it into a row that failed for good; the other has not taken it yet.
  await db.sql`select chat_private.take_webhook_events(${failing})`;
  await db.sql`
    update chat_private.webhook_deliveries set status = 'failed', attempts = 3,
      last_attempt_at = now() - interval '40 days', occurred_at = now() - interval '40 days'
    where webhook_id = ${failing}`;
  await db.sql`update chat_private.events set created_at = now() - interval '40 days'`;
  await db.sql`select chat_server.prune_events(interval '30 days')`;
  const [{ events }] = await db.sql<
    { events: number }[]
  >`select count(*)::int as events from chat_private.events`;
  assert.is(events > 0, true, 'kept for the webhook that has still to take it');
  const listed = await db.sql<{ status: string }[]>`
    select status from chat_admin.list_webhook_deliveries(${failing})`;
  assert.equal(
    listed.map((d) => d.status),
    [],
    'its failed row is pruned, and the event is not listed as delivered',
  );
  for (const id of [behind, failing]) await db.sql`select chat_admin.delete_webhook(${id})`;
});

test("the event log is the webhooks' outbox: a send writes no delivery; untaken events are pending, kept, taken once", async () => {
  const [webhook] = await db.sql<{ webhook_id: number }[]>`
    select * from chat_admin.create_webhook('https://hooks.example.com/log', ${['message.created']})`;
  const id = webhook?.webhook_id ?? 0;
  const sent = await sendTo(db.sql, 'ann', 'ben', 'from the log');
  await db.sql`select chat.mark_read('ben', ${sent.conversation_id})`; // conversation.read: not wanted
  const rows = () => db.sql`select * from chat_private.webhook_deliveries where webhook_id = ${id}`;
  assert.is((await rows()).length, 0, 'the sending transaction wrote no delivery');
  const pending = async () =>
    (
      await db.sql<
        { pending: number }[]
      >`select pending::int from chat_admin.list_webhooks() where webhook_id = ${id}`
    )[0]?.pending;
  assert.is(await pending(), 1);
  // Pruning does not cut the log past what a webhook has still to take, however old.
  await db.sql`update chat_private.events set created_at = now() - interval '40 days'`;
  await db.sql`select chat_server.prune_events('30 days')`;
  const [taken] = await db.sql<{ events_read: number; deliveries_written: number }[]>`
    select * from chat_private.take_webhook_events(${id})`;
  assert.is(taken?.deliveries_written, 1);
  assert.ok((taken?.events_read ?? 0) >= 2, 'the conversation.read was read and passed');
  const [again] = await db.sql<
    { events_read: number }[]
  >`select * from chat_private.take_webhook_events(${id})`;
  assert.is(again?.events_read, 0, 'taken once');
  const [delivery] = await rows();
  assert.is(delivery?.event_type, 'message.created');
  assert.match(JSON.stringify(delivery?.payload), 'from the log');
  assert.is(await pending(), 1);
  await db.sql`select chat_admin.delete_webhook(${id})`;
});

test('with no pending row a job posts from the log; what it records moves taken_through; a failure turns the rest into rows', async () => {
  const [webhook] = await db.sql<{ webhook_id: number }[]>`
    select * from chat_admin.create_webhook('https://hooks.example.com/straight', ${['message.created']})`;
  const id = webhook?.webhook_id ?? 0;
  type Event = {
    event_position: number | null;
    event_type: string | null;
    payload: string | null;
    read_through: number | null;
    rows_pending: boolean;
  };
  const next = (delivered: number[], through: number | null, after: number | null, count = 100) =>
    db.sql<Event[]>`select * from chat_server.next_webhook_events(${id}, ${delivered},
      ${delivered.map(() => 200)}, ${through}, ${after}, ${count})`;
  const takenThrough = async () =>
    Number(
      (await db.sql`select taken_through from chat_private.webhooks where webhook_id = ${id}`)[0]
        ?.taken_through,
    );
  const rows = () => db.sql<{ event_position: number; status: string }[]>`
    select event_position, status from chat_private.webhook_deliveries where webhook_id = ${id} order by delivery_id`;

  const sent = await sendTo(db.sql, 'ann', 'ben', 'straight one');
  await sendIn(db.sql, 'ben', sent.conversation_id, 'straight two');
  await db.sql`select chat.mark_read('ann', ${sent.conversation_id})`; // not wanted, but read past
  const page = await next([], null, null);
  assert.equal(
    page.map((e) => [e.event_type, JSON.parse(e.payload ?? '{}').message.body, e.rows_pending]),
    [
      ['message.created', 'straight one', false],
      ['message.created', 'straight two', false],
    ],
  );
  const readThrough = page[0]?.read_through ?? 0;
  assert.ok(readThrough > (page[1]?.event_position ?? 0), 'read_through covers the conversation.read');
  const positions = page.map((e) => e.event_position ?? 0);
  assert.is((await next(positions, readThrough, readThrough)).length, 0, 'nothing newer');
  assert.is(await takenThrough(), readThrough);
  assert.is((await rows()).length, 0, 'posted from the log: no row');
  const listed = await db.sql<{ webhook_message_id: string; status: string }[]>`
    select * from chat_admin.list_webhook_deliveries(${id})`;
  assert.equal(
    listed.map((d) => [d.webhook_message_id, d.status]),
    [...positions].reverse().map((p) => [`evt_${p}`, 'delivered']),
  );

  // A page with nothing wanted is one row of nulls that still moves the job on.
  await db.sql`select chat.react('ben', ${sent.conversation_id}, ${sent.seq}, '👍')`; // message.updated
  const unwanted = await next([], null, readThrough);
  assert.equal(
    unwanted.map((e) => [e.event_position, e.rows_pending]),
    [[null, false]],
  );
  assert.ok((unwanted[0]?.read_through ?? 0) > readThrough);

  // Three more; the middle one fails, the last reached the receiver: only the middle one and what
  // was not posted become rows.
  for (const body of ['a', 'b', 'c']) await sendIn(db.sql, 'ann', sent.conversation_id, body);
  const three = (await next([], null, unwanted[0]?.read_through ?? null)).map((e) => e.event_position ?? 0);
  assert.is(three.length, 3);
  const [a, b, c] = three as [number, number, number];
  await sendIn(db.sql, 'ann', sent.conversation_id, 'd, not fetched yet');
  const failed = await db.sql<{ event_position: number; delivery_id: number }[]>`
    select * from chat_server.webhook_events_to_deliveries(${id}, ${[a, c]}, ${[200, 200]}, ${a}, ${[b]})`;
  assert.equal(
    failed.map((f) => Number(f.event_position)),
    [b],
  );
  assert.is((await takenThrough()) > c, true, 'the rest of the log was taken into rows');
  const made = await rows();
  assert.equal(
    made.map((r) => r.status),
    ['pending', 'pending'],
  );
  assert.is(Number(made[0]?.event_position), b);
  assert.ok(
    Number(made[1]?.event_position) > c,
    'the one not fetched; c reached the receiver and has no row',
  );
  const pendingNow = await next([], null, null);
  assert.equal(
    pendingNow.map((e) => [e.event_position, e.rows_pending]),
    [[null, true]],
    'rows go first',
  );
  await db.sql`select chat_admin.delete_webhook(${id})`;
});

test('by a cursor a job fetches only newer pending deliveries, busy streams included; no cursor while one backs off', async () => {
  const [webhook] = await db.sql<{ webhook_id: number }[]>`
    select * from chat_admin.create_webhook('https://hooks.example.com/cursor', ${['message.created']})`;
  const id = webhook?.webhook_id ?? 0;
  type Row = { delivery_id: number; stream: string };
  const fetch = (busy: string[], afterId: number | null, delivered: number[] = []) =>
    db.sql<Row[]>`select * from chat_server.next_webhook_deliveries(${id}, ${delivered},
      ${delivered.map(() => 200)}, ${busy}, 100, ${afterId})`;
  const cursor = async () =>
    (await db.sql<{ c: number | null }[]>`select chat_server.webhook_delivery_cursor(${id}) as c`)[0]?.c;
  const first = await sendTo(db.sql, 'ann', 'ben', 'one');
  // Rows, as after a failed attempt (with none pending the job posts from the log, and this returns none).
  assert.is((await fetch([], null)).length, 0, 'no pending row: nothing by rows');
  await db.sql`select * from chat_private.take_webhook_events(${id})`;
  const stream = `c:${first.conversation_id}`;
  const start = await cursor();
  assert.ok(start !== null && start !== undefined, 'nothing backs off: a cursor is offered');
  const heads = await fetch([], null);
  assert.is(heads.length, 1);
  const held = Math.max(start ?? 0, ...heads.map((r) => r.delivery_id));
  await sendIn(db.sql, 'ann', first.conversation_id, 'two');
  await sendIn(db.sql, 'ben', first.conversation_id, 'three');
  assert.is((await fetch([stream], null)).length, 0, 'without a cursor a busy stream is left out');
  const newer = await fetch([stream], held);
  assert.is(newer.length, 2, 'by the cursor: the two newer ones, though their stream is busy');
  assert.ok(
    newer.every(
      (r, i) => r.delivery_id > held && (i === 0 || r.delivery_id > (newer[i - 1]?.delivery_id ?? 0)),
    ),
    'after the cursor, oldest first',
  );
  // The first one fails an attempt and backs off: no cursor while it does.
  await db.sql`select chat_server.webhook_attempt_failed(${heads[0]?.delivery_id ?? 0}, 500, 'answered 500', 60000, 60000, 24)`;
  assert.is(await cursor(), null, 'a backing-off delivery withholds the cursor');
  const last = newer.at(-1)?.delivery_id ?? 0;
  const markedAndNewer = await fetch(
    [],
    last,
    newer.map((r) => r.delivery_id),
  );
  assert.is(markedAndNewer.length, 0, 'nothing newer');
  const statuses = await db.sql<{ status: string }[]>`
    select status from chat_private.webhook_deliveries where webhook_id = ${id} order by delivery_id`;
  assert.equal(
    statuses.map((r) => r.status),
    ['pending', 'delivered', 'delivered'],
    'the two posted are marked; the one backing off waits',
  );
  await db.sql`select chat_admin.delete_webhook(${id})`;
});

test("a deleted webhook's job functions answer MCNWH, so its job stops posting what it holds", async () => {
  const [webhook] = await db.sql<{ webhook_id: number }[]>`
    select * from chat_admin.create_webhook('https://hooks.example.com/gone', ${['*']})`;
  const id = webhook?.webhook_id ?? 0;
  await db.sql`select chat_admin.delete_webhook(${id})`;
  await expectCode(
    db.sql`select * from chat_server.next_webhook_events(${id}, ${[]}, ${[]}, null, null, 10)`,
    'MCNWH',
  );
  await expectCode(
    db.sql`select * from chat_server.next_webhook_deliveries(${id}, ${[]}, ${[]}, ${[]}, 10)`,
    'MCNWH',
  );
  await expectCode(
    db.sql`select * from chat_server.webhook_events_to_deliveries(${id}, ${[]}, ${[]}, null, ${[]})`,
    'MCNWH',
  );
});

test('the prune_attachments job removes uploads never attached within 24 h', async () => {
  const [{ id }] = await db.sql<{ id: string }[]>`
    select chat_server.begin_attachment('ann', 'stale.txt', 'text/plain') as id`;
  await db.sql`update chat_private.attachments set created_at = now() - interval '25 hours' where attachment_id = ${id}`;
  const helpers = { abortSignal: new AbortController().signal, logger: { info() {} } };
  await taskList(db.sql, loadConfig({})).prune_attachments?.({}, helpers as never);
  const [{ left }] = await db.sql<{ left: number }[]>`
    select count(*)::int as left from chat_private.attachments where attachment_id = ${id}`;
  assert.is(left, 0);
});

test('they are graphile-worker cron jobs of the runner', () => {
  const tasks = taskList(db.sql, loadConfig({}));
  const items = parseCrontab(crontab);
  for (const task of ['prune_events', 'prune_attachments', 'apply_message_retention', 'kick_webhooks']) {
    const item = items.find((i) => i.task === task);
    assert.ok(item, `${task} is in the crontab`);
    assert.ok(tasks[task], `${task} is a task`);
  }
});

test.run();
