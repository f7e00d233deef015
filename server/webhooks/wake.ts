/**
 * Wakes the deliver_webhooks job of a webhook when it has something new to deliver: when the event
 * log grows (microchatter_events, the relays' channel: the log is the webhooks' outbox, and the job
 * takes from it what its webhook wants, functions/chat_private/webhooks.sql), and when a delivery is
 * written directly (push.needed, message.reported: microchatter_webhooks names the webhook). Every
 * process with a job runner listens here and knows which webhooks there are (read again when
 * microchatter_webhooks says 'changed'; the log's channel is heard only while there is one); for each
 * of them:
 *
 * - a job of this process is delivering that webhook: it is told, and fetches again (no query at all);
 * - otherwise the webhook's job is woken (chat_server.kick_webhook: graphile_worker.add_job on the
 *   webhook's key), at most one such call in flight per webhook, the notifications that arrive during
 *   it folded into one more call after it, so a burst of sends costs a few wakes, not one each;
 * - an endpoint that keeps failing is woken at most once per retry base (its job would only find the
 *   same streams backing off).
 *
 * A notification nobody heard (no process listening, a lost connection) is made up for by
 * chat_server.kick_webhooks: here when the listener (re)connects, and every minute from the crontab.
 */
import type { Sql } from '../db.ts';
import { EVENTS_CHANNEL } from '../events/relay.ts';
import { log } from '../logger.ts';

export const WEBHOOKS_CHANNEL = 'microchatter_webhooks';

/** A job of this process delivering one webhook: what it hears while it runs. */
export interface WebhookRun {
  /** Whether a notification came since the last call (and forgets it). */
  takeNotified(): boolean;
  /** Resolves at the next notification or `poke()`, or after `ms`. */
  next(ms: number): Promise<void>;
  /** Ends a `next()` wait early (a stream of the job finished). */
  poke(): void;
  release(): void;
}

export interface WebhookWaker {
  /** Called by the job for the time it delivers `webhookId` in this process. */
  claim(webhookId: number): WebhookRun;
  /** Wakes the webhook's job now, or after `delayMs`. */
  kick(webhookId: number, delayMs?: number): Promise<void>;
  /** Failed attempts in a row of the webhook's endpoint, as seen by this process. */
  failures: Map<number, number>;
  stop(): Promise<void>;
}

/**
 * LISTEN as postgres.js has it: `onListen` runs at every (re)connect. The job runner's thread
 * (server/jobs/thread.ts) listens through its parent's connection: one LISTEN per process.
 */
export type Listen = (
  channel: string,
  onNotify: (payload: string) => void,
  onListen?: () => void,
) => Promise<{ unlisten(): Promise<unknown> }>;

export interface WakerOptions {
  /** Wakes of an endpoint that failed this many attempts in a row wait `failingDelayMs`. */
  failingAfter: number;
  failingDelayMs: number;
  /** Default: `sql.listen`. */
  listen?: Listen;
}

interface RunState {
  claims: number;
  notified: boolean;
  poked: boolean;
  wake?: () => void;
}

export async function startWebhookWaker(sql: Sql, options: WakerOptions): Promise<WebhookWaker> {
  const runs = new Map<number, RunState>();
  const failures = new Map<number, number>();
  /** Webhooks with a kick in flight (true: notified again meanwhile, kick once more after it). */
  const kicking = new Map<number, boolean>();
  const delayed = new Set<number>();
  /** The webhooks there are, whose jobs a new event of the log wakes. */
  let webhookIds: number[] = [];
  let stopped = false;

  const kick = async (webhookId: number, delayMs = 0) => {
    await sql`select chat_server.kick_webhook(${webhookId}, ${delayMs})`;
  };

  const kickSoon = (webhookId: number) => {
    if (stopped) return;
    if (kicking.has(webhookId)) {
      kicking.set(webhookId, true);
      return;
    }
    kicking.set(webhookId, false);
    kick(webhookId)
      .catch((error) => log.warn({ err: error, webhook_id: webhookId }, 'could not wake a webhook job'))
      .finally(() => {
        const again = kicking.get(webhookId);
        kicking.delete(webhookId);
        if (again) notified(webhookId);
      });
  };

  const notified = (webhookId: number) => {
    const run = runs.get(webhookId);
    if (run) {
      run.notified = true;
      run.wake?.();
      return;
    }
    if ((failures.get(webhookId) ?? 0) >= options.failingAfter) {
      if (delayed.has(webhookId)) return;
      delayed.add(webhookId);
      setTimeout(() => {
        delayed.delete(webhookId);
        kickSoon(webhookId);
      }, options.failingDelayMs).unref();
      return;
    }
    kickSoon(webhookId);
  };

  const notifiedAll = () => {
    for (const webhookId of webhookIds) notified(webhookId);
  };

  const sweep = () =>
    sql`select chat_server.kick_webhooks()`.catch((error) =>
      log.warn({ err: error }, 'could not wake the webhook jobs'),
    );

  /**
   * Reads of the list go out on any of the pool's connections and may come back out of order: only
   * the newest one's answer counts. A delete and a create in quick succession otherwise left the list
   * from before the create, and the new webhook's sends woke nothing until the minute's sweep.
   */
  let reads = 0;
  const readWebhookIds = () => {
    const read = ++reads;
    return sql<{ webhook_id: number }[]>`select webhook_id from chat_server.webhook_ids() as webhook_id`.then(
      (rows) => {
        if (read !== reads) return;
        webhookIds = rows.map((row) => Number(row.webhook_id));
        hearEvents(webhookIds.length > 0);
      },
      (error) => log.warn({ err: error }, 'could not read the webhooks'),
    );
  };

  const listen: Listen =
    options.listen ?? ((channel, onNotify, onListen) => sql.listen(channel, onNotify, onListen));

  /**
   * The log's channel is heard only while there are webhooks: without one, every send's notification
   * would cross to the job runner's thread for nothing (a message and a thread wake-up per send,
   * bench/send.ts). Listening again, and at every reconnect, wakes them all: events committed
   * while nobody here listened go out now. Listens and unlistens go one at a time, in order.
   */
  let events: Promise<{ unlisten(): Promise<unknown> } | undefined> = Promise.resolve(undefined);
  const hearEvents = (wanted: boolean) => {
    events = events.then(async (current) => {
      if (stopped || wanted === (current !== undefined)) return current;
      if (current) {
        await current.unlisten().catch(() => undefined);
        return undefined;
      }
      return listen(EVENTS_CHANNEL, notifiedAll, notifiedAll).catch((error: unknown) => {
        log.warn({ err: error }, 'could not listen for new events; webhooks wait for the sweep');
        return undefined;
      });
    });
  };
  const listener = await listen(
    WEBHOOKS_CHANNEL,
    (payload) => {
      if (payload === 'changed') {
        // A webhook created or deleted. The jobs running here fetch at once: a deleted webhook's job
        // learns it is gone (MCNWH) and stops posting what it holds, rather than at its next fetch.
        for (const run of runs.values()) {
          run.notified = true;
          run.wake?.();
        }
        void readWebhookIds().then(notifiedAll);
        return;
      }
      const webhookId = Number(payload);
      if (Number.isSafeInteger(webhookId)) notified(webhookId);
    },
    // On every (re)connect: what was committed while nobody listened goes out now.
    () => void readWebhookIds().then(sweep),
  );

  return {
    failures,
    kick,
    claim(webhookId) {
      let state = runs.get(webhookId);
      if (!state) {
        state = { claims: 0, notified: false, poked: false };
        runs.set(webhookId, state);
      }
      state.claims++;
      const run = state;
      return {
        takeNotified() {
          const was = run.notified;
          run.notified = false;
          return was;
        },
        next(ms) {
          if (run.notified || run.poked) {
            run.poked = false;
            return Promise.resolve();
          }
          return new Promise<void>((resolve) => {
            const timer = setTimeout(done, ms);
            function done() {
              clearTimeout(timer);
              run.wake = undefined;
              run.poked = false;
              resolve();
            }
            run.wake = done;
          });
        },
        poke() {
          run.poked = true;
          run.wake?.();
        },
        release() {
          run.claims--;
          if (run.claims > 0) return;
          runs.delete(webhookId);
          // Heard after its last fetch: another job must look.
          if (run.notified) notified(webhookId);
        },
      };
    },
    async stop() {
      stopped = true;
      await listener.unlisten().catch(() => undefined);
      await (await events)?.unlisten().catch(() => undefined);
    },
  };
}
