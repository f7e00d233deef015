/**
 * Task `deliver_webhooks` {webhook_id}: posts the webhook's events, in batches. The webhook's
 * graphile-worker queue runs one such job at a time across all processes; within it, each stream (a
 * conversation) is posted one delivery after the other, in commit order, and up to `MAX_STREAMS`
 * streams at once.
 *
 * While the webhook has no pending delivery, the job posts straight from the event log
 * (chat_server.next_webhook_events): one query records what reached the receiver by moving the
 * webhook's taken_through past it and fetches the next events, and an event taken at the first attempt
 * costs no row. At the first failed attempt, the events still to post become delivery rows
 * (chat_server.webhook_events_to_deliveries) and the job goes on by rows
 * (chat_server.next_webhook_deliveries), which carry attempts and back-off, leaving out the streams
 * still in flight and those backing off, so a slow conversation holds back only itself; once no row is
 * pending, back to the log. While nothing backs off, the job holds every pending row and fetches by a
 * cursor, only those newer than it has: finding the oldest pending delivery of every stream walks the
 * index entries of all deliveries made since the last vacuum (docs/webhooks.md). A failed row is
 * recorded by chat_server.webhook_attempt_failed, which queues the webhook's job again for the retry.
 * The job runs until nothing is due (or `MAX_RUN_MS`, then it hands over to a new job of the webhook).
 */
import { createHmac } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Task } from 'graphile-worker';
import type { Sql } from '../db.ts';
import { log } from '../logger.ts';
import { type PostResult, postWebhook } from '../webhooks/post.ts';
import type { WebhookRun, WebhookWaker } from '../webhooks/wake.ts';

export interface WebhookSettings {
  webhookAllowPrivate: boolean;
  webhookTimeoutMs: number;
  webhookRetryHours: number;
  webhookRetryBaseMs: number;
  webhookRetryMaxMs: number;
}

interface Delivery {
  /** Null for an event posted from the log, which has no row. */
  delivery_id: number | null;
  /** The event's position in the log; null for a direct delivery (push.needed, message.reported). */
  event_position: number | null;
  stream: string;
  url: string;
  secret: string;
  event_type: string;
  /** The event's JSON as PostgreSQL wrote it: it goes into the body as it is. */
  payload: string | null;
  occurred_at: string;
}

/** A row of chat_server.next_webhook_events. */
interface LogEvent extends Omit<Delivery, 'delivery_id'> {
  read_through: number | null;
  rows_pending: boolean;
}

/**
 * The webhook-id header, stable per event and endpoint: the event's position for an event of the log
 * (posted from it, or from the row it became after a failure), the row's id for a direct delivery.
 */
export function webhookMessageId(delivery: Pick<Delivery, 'delivery_id' | 'event_position'>): string {
  return delivery.event_position !== null ? `evt_${delivery.event_position}` : `msg_${delivery.delivery_id}`;
}

/** The HMAC key of a webhook secret: whsec_ and base64, as chat_private.webhook_secret makes it. */
export function signingKey(secret: string): Buffer {
  return Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
}

/**
 * What the receiver gets: the Standard Webhooks body and headers, signed `v1,` + base64 of the
 * HMAC-SHA256 of `id.timestamp.body` (node:crypto: 3–4 µs a delivery, against 12–16 through the
 * `standardwebhooks` package's JavaScript SHA-256; the tests verify with that package).
 */
export function signedRequest(delivery: Delivery, now = new Date(), key = signingKey(delivery.secret)) {
  const id = webhookMessageId(delivery);
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const body = `{"type":${JSON.stringify(delivery.event_type)},"timestamp":${JSON.stringify(delivery.occurred_at)},"data":${delivery.payload ?? 'null'}}`;
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return {
    body,
    headers: { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` },
  };
}

/** Streams of one webhook posted at once by its job. */
const MAX_STREAMS = 16;
/** Deliveries fetched at most per query, and per stream (next_webhook_deliveries without a cursor). */
const BATCH = 500;
const STREAM_BATCH = 100;
/** Fetching pauses while this many fetched deliveries wait in the job's queues. */
const MAX_QUEUED = 2000;
/**
 * Between two fetches of a busy webhook at least this long passes, so that a fetch finds several new
 * deliveries rather than one (at 1,000 sends/s, 5 ms gave a throughput ratio of 0.57–0.66 and 25 ms
 * 0.72–0.75 in bench/webhooks.ts): the wait it adds to a delivery is at most this.
 */
const GATHER_MS = 20;
/** A job that ran this long hands over to a new one (graphile-worker takes a job locked 4 h as lost). */
const MAX_RUN_MS = 60_000;
/**
 * An endpoint that keeps failing must not take more than its share: once it failed this many attempts
 * in a row, at most `FAILING_IN_FLIGHT` of its streams are tried at once, and its wakes wait a retry base.
 */
export const FAILING_AFTER = 3;
const FAILING_IN_FLIGHT = 2;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the job's functions raise once the webhook is deleted (delete_webhook: nothing more is sent). */
const WEBHOOK_GONE = 'MCNWH';

/**
 * Runs `work` with the poster's streams, and stops them however it ends (a failure, rows to go first,
 * the end of the run, a database error, the webhook deleted): each ends the post it is in and posts
 * nothing more, so no task of this job posts beside the next job of the webhook.
 */
async function withStreams<T>(poster: StreamPoster, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    poster.stopped = true;
    await poster.settle();
  }
}

/** What one run of a webhook's job works with. */
interface JobRun {
  sql: Sql;
  settings: WebhookSettings;
  waker: WebhookWaker;
  webhookId: number;
  run: WebhookRun;
  abortSignal: AbortSignal;
  started: number;
}

const overdue = (job: JobRun) => job.abortSignal.aborted || Date.now() - job.started > MAX_RUN_MS;
const streamLimit = (job: JobRun) =>
  (job.waker.failures.get(job.webhookId) ?? 0) >= FAILING_AFTER ? FAILING_IN_FLIGHT : MAX_STREAMS;

export function deliverWebhooks(sql: Sql, settings: WebhookSettings, waker: WebhookWaker): Task {
  return async (payload, helpers) => {
    const { webhook_id: webhookId, stream } = payload as { webhook_id: number; stream?: string };
    if (stream !== undefined) {
      // A job of one stream, queued before deliveries were batched per webhook: its queue would run
      // beside the webhook's, so it only wakes the webhook's job.
      await waker.kick(webhookId);
      return;
    }
    // Each stream in flight listens for the end of the run (postWebhook ends its POST with it): a
    // signal of the run's own, as the pool's is shared by every job it runs (past 10 listeners Node
    // warns of a leak).
    const ended = new AbortController();
    setMaxListeners(MAX_STREAMS + 1, ended.signal);
    const end = () => ended.abort(helpers.abortSignal.reason);
    if (helpers.abortSignal.aborted) end();
    else helpers.abortSignal.addEventListener('abort', end, { once: true });
    const run = waker.claim(webhookId);
    const job: JobRun = {
      sql,
      settings,
      waker,
      webhookId,
      run,
      abortSignal: ended.signal,
      started: Date.now(),
    };
    try {
      // From the log while no row is pending; by rows while some are, and back once they are gone. Rows
      // that posted nothing (all backing off) end the run: their retry job comes back for them.
      while ((await deliverFromLog(job)) === 'rows' && !overdue(job)) {
        if (!(await deliverRows(job)) || overdue(job)) break;
      }
      // Shutting down, or ran long: the rest goes on in a new job, from whichever process takes it.
      if (overdue(job)) await waker.kick(webhookId);
    } catch (error) {
      // Deleted meanwhile: its streams stopped at the post they were in, and nothing more goes to it.
      if ((error as { code?: unknown }).code !== WEBHOOK_GONE) throw error;
    } finally {
      helpers.abortSignal.removeEventListener('abort', end);
      run.release();
    }
  };
}

/**
 * Queues of fetched deliveries per stream, each posted one delivery after the other by a task of its
 * own, up to a limit of streams at once. `posted` decides after each post whether its stream goes on.
 */
class StreamPoster {
  /** Fetched deliveries not posted yet, per stream, oldest first; a stream here is busy. */
  readonly queues = new Map<string, Delivery[]>();
  readonly inFlight = new Map<string, Promise<void>>();
  /** Set to stop: the streams finish the post they are in, and leave the rest. */
  stopped = false;
  /** Signing keys by secret, decoded once per run. */
  private readonly keys = new Map<string, Buffer>();

  constructor(
    private readonly job: JobRun,
    private readonly posted: (delivery: Delivery, result: PostResult) => Promise<'next' | 'stop'>,
  ) {}

  get queued(): number {
    let sum = 0;
    for (const queue of this.queues.values()) sum += queue.length;
    return sum;
  }

  get idle(): boolean {
    return this.inFlight.size === 0 && this.queues.size === 0;
  }

  /** Queues a delivery; a new stream only if `newStreams`. Returns whether it was queued. */
  add(delivery: Delivery, newStreams = true): boolean {
    const queue = this.queues.get(delivery.stream);
    if (queue) queue.push(delivery);
    else if (newStreams) this.queues.set(delivery.stream, [delivery]);
    else return false;
    return true;
  }

  /** Starts streams that have a queue and no task, up to `limit` tasks. */
  start(limit: number): void {
    for (const stream of this.queues.keys()) {
      if (this.inFlight.has(stream)) continue;
      if (this.inFlight.size >= limit) break;
      this.inFlight.set(
        stream,
        this.postStream(stream)
          .catch((error) =>
            log.error({ err: error, webhook_id: this.job.webhookId }, 'webhook stream failed'),
          )
          .finally(() => {
            this.inFlight.delete(stream);
            this.job.run.poke();
          }),
      );
    }
  }

  /** Waits for every stream's task to end. */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight.values());
  }

  /**
   * Posts a stream's queue until it is empty, or `posted` stops it. The queue leaves `queues` in the
   * step that finds it empty (no await between), so a delivery fetched a moment later starts a new
   * queue rather than joining one nobody posts.
   */
  private async postStream(stream: string): Promise<void> {
    const { settings, waker, webhookId, abortSignal } = this.job;
    const queue = this.queues.get(stream) ?? [];
    try {
      for (let delivery = queue.shift(); delivery; delivery = queue.shift()) {
        if (abortSignal.aborted || this.stopped) return;
        let key = this.keys.get(delivery.secret);
        if (!key) {
          key = signingKey(delivery.secret);
          this.keys.set(delivery.secret, key);
        }
        const { body, headers } = signedRequest(delivery, new Date(), key);
        const result = await postWebhook(delivery.url, body, {
          headers,
          timeoutMs: settings.webhookTimeoutMs,
          allowPrivate: settings.webhookAllowPrivate,
          signal: abortSignal,
        });
        if (result.ok) waker.failures.delete(webhookId);
        else if (abortSignal.aborted)
          return; // not the receiver's failure: no attempt spent
        else waker.failures.set(webhookId, (waker.failures.get(webhookId) ?? 0) + 1);
        if ((await this.posted(delivery, result)) === 'stop') return;
      }
    } finally {
      if (this.queues.get(stream) === queue) this.queues.delete(stream);
    }
  }
}

/** Waits for a stream to finish or a notification, then lets a little more gather. */
async function gather(job: JobRun, lastFetch: number): Promise<void> {
  await job.run.next(1000);
  const gathered = Date.now() - lastFetch;
  if (gathered < GATHER_MS && !job.abortSignal.aborted) await sleep(GATHER_MS - gathered);
}

/**
 * The positions fetched from the log and not delivered yet, in log order: every event before the
 * oldest of them reached the receiver or was not wanted.
 */
class Outstanding {
  private order: number[] = [];
  private head = 0;
  /** Delivered, but after the oldest still outstanding. */
  private readonly ahead = new Set<number>();

  add(position: number): void {
    this.order.push(position);
  }

  delivered(position: number): void {
    this.ahead.add(position);
    while (this.head < this.order.length && this.ahead.delete(this.order[this.head] as number)) this.head++;
    if (this.head > 1024) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  /** What taken_through may move to, with everything up to `readThrough` fetched. */
  through(readThrough: number | null): number | null {
    const oldest = this.order[this.head];
    return oldest !== undefined ? oldest - 1 : readThrough;
  }
}

/**
 * Posts the webhook's events straight from the log while none of its deliveries is pending. Returns
 * 'rows' when rows are to go first (pending ones found, or events still to post became rows: after a
 * failed attempt, or at the end of the run behind events that reached the receiver ahead of them),
 * 'done' when the log is posted to its end and nothing is left, or the run is over.
 */
async function deliverFromLog(job: JobRun): Promise<'rows' | 'done'> {
  const { sql, webhookId } = job;
  const outstanding = new Outstanding();
  let readThrough: number | null = null;
  /**
   * The events of this run that reached the receiver, with its status, after the taken_through of the
   * last fetch that found no row pending. A direct delivery takes the log into rows from taken_through
   * on, so any of them may yet have a row: every fetch passes them all, to mark such rows delivered.
   */
  const reached = new Map<number, number>();
  /** Deliveries since the last fetch: one is due to record them. */
  let unrecorded = 0;
  const failures: { position: number; status: number | null; error: string }[] = [];
  let rowsPending = false;
  const poster = new StreamPoster(job, async (delivery, result) => {
    const position = delivery.event_position as number;
    if (result.ok) {
      reached.set(position, result.status);
      unrecorded++;
      outstanding.delivered(position);
      return 'next';
    }
    // The first failure turns the rest into rows: every stream stops after the post it is in.
    failures.push({ position, status: result.status, error: result.error });
    poster.stopped = true;
    return 'stop';
  });

  await withStreams(poster, async () => {
    let lastFetch = 0;
    while (!overdue(job) && failures.length === 0) {
      job.run.takeNotified();
      const count = poster.queued < MAX_QUEUED ? BATCH : 0;
      const through = outstanding.through(readThrough);
      const recording = unrecorded;
      unrecorded = 0;
      lastFetch = Date.now();
      const rows: LogEvent[] =
        count > 0 || recording > 0
          ? await sql<LogEvent[]>`
              select * from chat_server.next_webhook_events(${webhookId}, ${[...reached.keys()]},
                ${[...reached.values()]}, ${through}, ${readThrough}, ${count})`
          : [];
      if (rows[0]?.rows_pending) {
        rowsPending = true;
        return;
      }
      // taken_through is at `through` now: a direct delivery's rows start after it.
      if (through !== null) {
        for (const position of reached.keys()) if (position <= through) reached.delete(position);
      }
      for (const row of rows) {
        if (row.read_through !== null && (readThrough === null || row.read_through > readThrough)) {
          readThrough = row.read_through;
        }
        if (row.event_position === null) continue; // a page with nothing the webhook wants
        outstanding.add(row.event_position);
        poster.add({ ...row, delivery_id: null });
      }
      if (failures.length > 0) return;
      poster.start(streamLimit(job));
      if (poster.idle && rows.length === 0 && unrecorded === 0) {
        if (job.run.takeNotified()) continue;
        return;
      }
      await gather(job, lastFetch);
    }
  });
  const through = outstanding.through(readThrough);
  const positions = [...reached.keys()];
  const statuses = [...reached.values()];
  if (failures.length === 0 && positions.every((position) => through === null || position <= through)) {
    if (positions.length > 0 || through !== null) {
      await sql`select from chat_server.next_webhook_events(${webhookId}, ${positions}, ${statuses},
        ${through}, ${readThrough}, 0)`;
    }
    return rowsPending ? 'rows' : 'done';
  }
  // An attempt failed, or events reached the receiver behind one not delivered (the next job, starting
  // from taken_through, would post them again): the events still to post become rows, but those.
  const rows = await sql<{ event_position: number; delivery_id: number }[]>`
    select * from chat_server.webhook_events_to_deliveries(${webhookId}, ${positions}, ${statuses}, ${through},
      ${failures.map((failure) => failure.position)})`;
  const ids = new Map(rows.map((row) => [Number(row.event_position), row.delivery_id]));
  for (const failure of failures) {
    const deliveryId = ids.get(failure.position);
    if (deliveryId !== undefined) await attemptFailed(job, deliveryId, failure.status, failure.error);
  }
  return 'rows';
}

/** Records a failed attempt of a row; returns whether it is failed for good (its stream moves on). */
async function attemptFailed(job: JobRun, deliveryId: number, status: number | null, error: string) {
  const { settings } = job;
  const [{ outcome }] = await job.sql<{ outcome: string }[]>`
    select chat_server.webhook_attempt_failed(${deliveryId}, ${status}, ${error},
      ${settings.webhookRetryBaseMs}, ${settings.webhookRetryMaxMs}, ${settings.webhookRetryHours}) as outcome`;
  if (outcome === 'failed') {
    log.warn(
      { webhook_id: job.webhookId, delivery_id: deliveryId, reason: error },
      'webhook delivery failed for good',
    );
    return true;
  }
  return false;
}

/**
 * Posts the webhook's pending rows, taking its new events of the log into rows as it goes, until no
 * row is due. Returns whether it posted anything.
 */
async function deliverRows(job: JobRun): Promise<boolean> {
  const { sql, webhookId } = job;
  const delivered: number[] = [];
  const statuses: number[] = [];
  let posts = 0;
  /**
   * While not null, the job holds every pending delivery up to this delivery_id (queued, in flight or
   * posted) and fetches only those after it: no walk over the heads of every stream. Taken once, when
   * a fetch with nothing in flight returned everything pending and nothing was backing off
   * (chat_server.webhook_delivery_cursor); given up at the first back-off, whose stream the heads then
   * hold back.
   */
  let cursor: number | null = null;
  let cursorTried = false;
  const poster = new StreamPoster(job, async (delivery, result) => {
    posts++;
    const deliveryId = delivery.delivery_id as number;
    if (result.ok) {
      delivered.push(deliveryId);
      statuses.push(result.status);
      return 'next';
    }
    if (await attemptFailed(job, deliveryId, result.status, result.error)) return 'next';
    // Backing off: the rest of the stream waits for the retry, pending in the table, where only the
    // heads see that it waits.
    cursor = null;
    return 'stop';
  });

  await withStreams(poster, async () => {
    let lastFetch = 0;
    while (!overdue(job)) {
      job.run.takeNotified();
      const limit = streamLimit(job);
      const marked = delivered.splice(0);
      const markedStatuses = statuses.splice(0);
      // With a cursor, fetched deliveries wait in their queues, so fetching stops while many do; without
      // one, a fetch leaves out busy streams, and is made only while a stream could start.
      const count =
        cursor !== null ? (poster.queued < MAX_QUEUED ? BATCH : 0) : poster.inFlight.size < limit ? BATCH : 0;
      let cursorOnOffer: number | null = null;
      if (cursor === null && !cursorTried && poster.queues.size === 0 && count > 0) {
        cursorTried = true;
        const [row] = await sql<{ cursor: number | null }[]>`
          select chat_server.webhook_delivery_cursor(${webhookId}) as cursor`;
        cursorOnOffer = row?.cursor ?? null;
      }
      const fetchedAfter = cursor;
      lastFetch = Date.now();
      const rows: Delivery[] =
        count > 0 || marked.length > 0
          ? await sql<Delivery[]>`
              select * from chat_server.next_webhook_deliveries(${webhookId}, ${marked}, ${markedStatuses},
                ${[...poster.queues.keys()]}, ${count}, ${cursor})`
          : [];
      if (cursorOnOffer !== null && isComplete(rows, count)) cursor = cursorOnOffer;
      // A back-off while the fetch was out gave the cursor up: its stream's later deliveries may be
      // among the rows, and must wait behind its head. They are all pending, for the heads to find.
      if (fetchedAfter !== null && cursor === null) continue;
      for (const row of rows) {
        if (cursor !== null && (row.delivery_id as number) > cursor) cursor = row.delivery_id;
        // Without a cursor, a row of a stream that cannot start now is left for a later fetch, which
        // finds it at its stream's head again.
        poster.add(row, cursor !== null || poster.queues.size < limit);
      }
      poster.start(limit);
      if (poster.idle && rows.length === 0 && delivered.length === 0) {
        if (job.run.takeNotified()) continue;
        return;
      }
      await gather(job, lastFetch);
    }
  });
  if (delivered.length > 0) {
    await sql`select from chat_server.next_webhook_deliveries(${webhookId}, ${delivered}, ${statuses}, ${[]}, 0)`;
  }
  return posts > 0;
}

/** Whether a fetch without a cursor returned every pending delivery: no stream or batch was cut short. */
function isComplete(rows: Delivery[], count: number): boolean {
  if (rows.length >= count) return false;
  const perStream = new Map<string, number>();
  for (const row of rows) perStream.set(row.stream, (perStream.get(row.stream) ?? 0) + 1);
  return [...perStream.values()].every((n) => n < STREAM_BATCH);
}
