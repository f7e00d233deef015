/**
 * Task `deliver_webhooks` {webhook_id}: posts the pending deliveries of one webhook, in batches. The
 * webhook's graphile-worker queue runs one such job at a time across all processes; within it, each
 * stream (a conversation) is posted one delivery after the other, in commit order, and up to
 * `MAX_STREAMS` streams at once. One query (chat_server.next_webhook_deliveries) marks what was
 * delivered and fetches the next batch, leaving out the streams still in flight and those backing off
 * after a failed attempt, so a slow conversation holds back only itself. While nothing backs off, the
 * job holds every pending delivery and fetches by a cursor, only those newer than it has: finding the
 * oldest pending delivery of every stream walks the index entries of all deliveries made since the
 * last vacuum, which made a fetch 7–12 ms at the start of a 3 s window at 1,000 sends/s and 31–72 ms
 * at its end, while by the cursor it stayed 2.8–6.1 ms (docs/webhooks.md). A failure is recorded by
 * chat_server.webhook_attempt_failed, which queues the webhook's job again for the retry. The job runs
 * until nothing is due (or `MAX_RUN_MS`, then it hands over to a new job of the webhook).
 */
import type { Task } from 'graphile-worker';
import { Webhook } from 'standardwebhooks';
import type { Sql } from '../db.ts';
import { log } from '../logger.ts';
import { postWebhook } from '../webhooks/post.ts';
import type { WebhookRun, WebhookWaker } from '../webhooks/wake.ts';

export interface WebhookSettings {
  webhookAllowPrivate: boolean;
  webhookTimeoutMs: number;
  webhookRetryHours: number;
  webhookRetryBaseMs: number;
  webhookRetryMaxMs: number;
}

interface Delivery {
  delivery_id: number;
  stream: string;
  url: string;
  secret: string;
  event_type: string;
  /** The event's JSON as PostgreSQL wrote it: it goes into the body as it is. */
  payload: string | null;
  occurred_at: string;
  attempts: number;
}

/** What the receiver gets: the Standard Webhooks body and headers (webhook-id is stable per delivery). */
export function signedRequest(delivery: Delivery, now = new Date(), signer = new Webhook(delivery.secret)) {
  const id = `msg_${delivery.delivery_id}`;
  const body = `{"type":${JSON.stringify(delivery.event_type)},"timestamp":${JSON.stringify(delivery.occurred_at)},"data":${delivery.payload ?? 'null'}}`;
  return {
    body,
    headers: {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signer.sign(id, now, body),
    },
  };
}

/** Streams of one webhook posted at once by its job. */
const MAX_STREAMS = 16;
/** Deliveries fetched at most per query, and per stream (next_webhook_deliveries without a cursor). */
const BATCH = 500;
const STREAM_BATCH = 100;
/** With a cursor, fetching pauses while this many deliveries wait in the job's queues. */
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

export function deliverWebhooks(sql: Sql, settings: WebhookSettings, waker: WebhookWaker): Task {
  return async (payload, helpers) => {
    const { webhook_id: webhookId, stream } = payload as { webhook_id: number; stream?: string };
    if (stream !== undefined) {
      // A job of one stream, queued before deliveries were batched per webhook: its queue would run
      // beside the webhook's, so it only wakes the webhook's job.
      await waker.kick(webhookId);
      return;
    }
    const run = waker.claim(webhookId);
    try {
      await deliverBatches(sql, settings, waker, webhookId, run, helpers.abortSignal);
    } finally {
      run.release();
    }
  };
}

async function deliverBatches(
  sql: Sql,
  settings: WebhookSettings,
  waker: WebhookWaker,
  webhookId: number,
  run: WebhookRun,
  abortSignal: AbortSignal,
): Promise<void> {
  const started = Date.now();
  /** Fetched deliveries not posted yet, per stream, oldest first; a stream here is busy. */
  const queues = new Map<string, Delivery[]>();
  const inFlight = new Map<string, Promise<void>>();
  const delivered: number[] = [];
  const statuses: number[] = [];
  const signers = new Map<string, Webhook>();
  /**
   * While not null, the job holds every pending delivery up to this delivery_id (queued, in flight or
   * posted) and fetches only those after it: no walk over the heads of every stream. Taken once per
   * run, when a fetch with nothing in flight returned everything pending and nothing was backing off
   * (chat_server.webhook_delivery_cursor); given up for the run at the first back-off, whose stream the
   * heads then hold back.
   */
  let cursor: number | null = null;
  let cursorTried = false;
  /** Set when the run ends: the streams finish the post they are in, and leave the rest pending. */
  let ending = false;

  /**
   * Posts a stream's queue until it is empty, or the stream backs off. The queue leaves `queues` in
   * the step that finds it empty (no await between), so a delivery fetched a moment later starts a
   * new queue rather than joining one nobody posts.
   */
  const postStream = async (stream: string) => {
    const queue = queues.get(stream) ?? [];
    try {
      for (let delivery = queue.shift(); delivery; delivery = queue.shift()) {
        if (abortSignal.aborted || ending) return;
        let signer = signers.get(delivery.secret);
        if (!signer) {
          signer = new Webhook(delivery.secret);
          signers.set(delivery.secret, signer);
        }
        const { body, headers } = signedRequest(delivery, new Date(), signer);
        const result = await postWebhook(delivery.url, body, {
          headers,
          timeoutMs: settings.webhookTimeoutMs,
          allowPrivate: settings.webhookAllowPrivate,
          signal: abortSignal,
        });
        if (result.ok) {
          waker.failures.delete(webhookId);
          delivered.push(delivery.delivery_id);
          statuses.push(result.status);
          continue;
        }
        if (abortSignal.aborted) return; // not the receiver's failure: no attempt spent
        waker.failures.set(webhookId, (waker.failures.get(webhookId) ?? 0) + 1);
        const [{ outcome }] = await sql<{ outcome: string }[]>`
          select chat_server.webhook_attempt_failed(${delivery.delivery_id}, ${result.status}, ${result.error},
            ${settings.webhookRetryBaseMs}, ${settings.webhookRetryMaxMs}, ${settings.webhookRetryHours}) as outcome`;
        if (outcome === 'failed') {
          log.warn(
            { webhook_id: webhookId, delivery_id: delivery.delivery_id, reason: result.error },
            'webhook delivery failed for good',
          );
          continue;
        }
        // Backing off: the rest of the stream waits for the retry, pending in the table, where only
        // the heads see that it waits.
        cursor = null;
        return;
      }
    } finally {
      if (queues.get(stream) === queue) queues.delete(stream);
    }
  };

  let lastFetch = 0;
  for (;;) {
    if (abortSignal.aborted || Date.now() - started > MAX_RUN_MS) break;
    run.takeNotified();
    const failing = (waker.failures.get(webhookId) ?? 0) >= FAILING_AFTER;
    const streamLimit = failing ? FAILING_IN_FLIGHT : MAX_STREAMS;
    const marked = delivered.splice(0);
    const markedStatuses = statuses.splice(0);
    const queued = [...queues.values()].reduce((sum, queue) => sum + queue.length, 0);
    // With a cursor, fetched deliveries wait in their queues, so fetching stops while many do; without
    // one, a fetch leaves out busy streams, and is made only while a stream could start.
    const count =
      cursor !== null ? (queued < MAX_QUEUED ? BATCH : 0) : inFlight.size < streamLimit ? BATCH : 0;
    let cursorOnOffer: number | null = null;
    if (cursor === null && !cursorTried && queues.size === 0 && count > 0) {
      cursorTried = true;
      const [row] = await sql<{ cursor: number | null }[]>`
        select chat_server.webhook_delivery_cursor(${webhookId}) as cursor`;
      cursorOnOffer = row?.cursor ?? null;
    }
    const fetchedAfter = cursor;
    lastFetch = Date.now();
    const rows =
      count > 0 || marked.length > 0
        ? await sql<Delivery[]>`
            select * from chat_server.next_webhook_deliveries(${webhookId}, ${marked}, ${markedStatuses},
              ${[...queues.keys()]}, ${count}, ${cursor})`
        : [];
    if (cursorOnOffer !== null && isComplete(rows, count)) cursor = cursorOnOffer;
    // A back-off while the fetch was out gave the cursor up: its stream's later deliveries may be
    // among the rows, and must wait behind its head. They are all pending, for the heads to find.
    if (fetchedAfter !== null && cursor === null) continue;
    for (const row of rows) {
      if (cursor !== null && row.delivery_id > cursor) cursor = row.delivery_id;
      const queue = queues.get(row.stream);
      if (queue) queue.push(row);
      else if (cursor !== null || queues.size < streamLimit) queues.set(row.stream, [row]);
      // else: left for a later fetch, which finds it at its stream's head again
    }
    for (const stream of queues.keys()) {
      if (inFlight.has(stream)) continue;
      if (inFlight.size >= streamLimit) break;
      inFlight.set(
        stream,
        postStream(stream)
          .catch((error) => log.error({ err: error, webhook_id: webhookId }, 'webhook stream failed'))
          .finally(() => {
            inFlight.delete(stream);
            run.poke();
          }),
      );
    }
    if (inFlight.size === 0 && queues.size === 0 && rows.length === 0 && delivered.length === 0) {
      if (run.takeNotified()) continue;
      break;
    }
    // Something to wait for: a stream finishing, or new deliveries; then gather a little more.
    await run.next(1000);
    const gathered = Date.now() - lastFetch;
    if (gathered < GATHER_MS && !abortSignal.aborted) await sleep(GATHER_MS - gathered);
  }
  ending = true;
  await Promise.all(inFlight.values());
  if (delivered.length > 0) {
    await sql`select from chat_server.next_webhook_deliveries(${webhookId}, ${delivered}, ${statuses}, ${[]}, 0)`;
  }
  // Shutting down, or ran long: the rest goes on in a new job, from whichever process takes it.
  if (abortSignal.aborted || Date.now() - started > MAX_RUN_MS) await waker.kick(webhookId);
}

/** Whether a fetch without a cursor returned every pending delivery: no stream or batch was cut short. */
function isComplete(rows: Delivery[], count: number): boolean {
  if (rows.length >= count) return false;
  const perStream = new Map<string, number>();
  for (const row of rows) perStream.set(row.stream, (perStream.get(row.stream) ?? 0) + 1);
  return [...perStream.values()].every((n) => n < STREAM_BATCH);
}
