/**
 * Group commit for sends. Sends that arrive while others are in flight wait here and then go together,
 * in arrival order, in one transaction through chat_server.send_messages: one commit flush, one event
 * lock, one NOTIFY and one relay read for all of them, instead of a queue of transactions each holding
 * its conversation's lock through its own flush. A send that arrives when a slot is free goes at once,
 * alone, through chat.send_message: no added wait on an idle server.
 *
 * The rules stay in chat.send_message, which the batch function calls once per message inside its own
 * savepoint, so each caller gets exactly the answer a send of its own would have had: its message, or
 * its own refusal while the others go through.
 *
 * A conversation is in at most one call at a time: later sends into it wait for that call to finish
 * (they would only queue on its lock in the database otherwise), and go in the next batch. A batch
 * waits at most BATCH_LOCK_TIMEOUT for locks held elsewhere (an open psql transaction, a long
 * batch of another process); past it, each of its sends goes alone and waits as long as it must, so a
 * conversation locked elsewhere holds up only its own sends, never those it happened to share a batch
 * with. Alone sends that wait that long would take the slots: while every call in flight has been for
 * longer than STALLED_MS, one more may start.
 *
 * Calls run on lanes: connections of their own, each a pool of one (it reconnects by itself), up to
 * one per slot, taken most recently used first, so that a quiet server's sends keep going to the
 * backend that ran the last one. The main pool hands its idle connections out in turn: after a busy
 * spell had opened all ten, every send of a lone sender went to a backend that had sat out the other
 * nine. One-connection HTTP send p50 minus SQL send p50 after a 1 s burst of 50 connections, servers
 * with and without lanes taking turns on one database, median of 8 rounds: 0.54 ms against 0.80 ms
 * (`npm run bench:ab -- <commit> --burst`).
 * Calls past the slots, and sends retried alone after a batch, use the main pool.
 */
import { type Sql, sentWithin } from './db.ts';
import { SqlRefusal } from './errors.ts';

/** What chat_server.send_messages answers for each send, in order. */
type Outcome = { message: unknown } | { error: { code: string; message: string; hint: string | null } };

interface Waiting {
  conversation: string;
  /** The send as chat_server.send_messages takes it: argument name → value, with the actor. */
  send: Record<string, unknown>;
  /** The same send through chat.send_message on the given connections, for when it goes alone. */
  alone: (db: Sql) => Promise<unknown>;
  resolve(message: unknown): void;
  reject(error: unknown): void;
}

/**
 * Calls (alone or batches) in flight at once per process. Two: more gathers less and costs more
 * commits, NOTIFYs and relay reads (bench/events.ts, 500 sends/s into 1,000 direct chats: delivery p50
 * 2.05 ms with two slots, 4.39 ms with eight).
 */
export const SLOTS = 2;
export const STALLED_MS = 50;
export const MAX_CALLS = 8;
/** More than this many ready sends go in several batches: one transaction stays short. */
export const MAX_BATCH = 100;
export const BATCH_LOCK_TIMEOUT = '200ms';

/** lock_not_available: the batch (or one of its sends) met BATCH_LOCK_TIMEOUT. */
const LOCK_TIMEOUT = '55P03';

/** A batch's answers, or undefined for every send when the batch as a whole timed out on a lock. */
async function runBatch(db: Sql, batch: Waiting[]): Promise<(Outcome | undefined)[]> {
  try {
    // One statement: the timeout is set (for this transaction only) before the batch runs.
    const [row] = await sentWithin(
      db.unsafe(
        'select set_config($2, $3, true) as lock_timeout, chat_server.send_messages($1::text::jsonb) as outcomes',
        [JSON.stringify(batch.map((w) => w.send)), 'lock_timeout', BATCH_LOCK_TIMEOUT],
        { prepare: true },
      ),
    );
    return (row?.outcomes ?? []) as Outcome[];
  } catch (error) {
    if ((error as { code?: unknown }).code === LOCK_TIMEOUT) return batch.map(() => undefined);
    throw error;
  }
}

function settle(waiting: Waiting, outcome: Outcome): void {
  if ('message' in outcome) waiting.resolve(outcome.message);
  else waiting.reject(new SqlRefusal(outcome.error.code, outcome.error.message, outcome.error.hint));
}

export interface SendBatcher {
  /** Sends into a conversation; resolves with the message as chat.send_message returns it. */
  send(
    conversationId: string | number,
    send: Record<string, unknown>,
    alone: (db: Sql) => Promise<unknown>,
  ): Promise<unknown>;
}

/**
 * `openLane` opens one lane (a pool of one connection); without it every call uses `sql`. The caller
 * ends the lanes it opened.
 */
export function createSendBatcher(sql: Sql, openLane?: () => Sql): SendBatcher {
  /** Conversations in a call, each with the sends that arrived for it since (they wait for the call). */
  const inCall = new Map<string, Waiting[]>();
  /** Sends free to go (their conversation is in no call), in arrival order. */
  const ready: Waiting[] = [];
  /** When each call in flight started. */
  const calls = new Set<{ startedAt: number }>();
  let stallTimer: NodeJS.Timeout | undefined;
  /** Lanes free to take, the most recently used last; `opened` of them in all (at most SLOTS). */
  const idleLanes: Sql[] = [];
  let opened = 0;
  const takeLane = (): Sql => {
    const lane = idleLanes.pop();
    if (lane) return lane;
    if (!openLane || opened >= SLOTS) return sql;
    opened++;
    return openLane();
  };
  const giveLane = (lane: Sql) => {
    if (lane !== sql) idleLanes.push(lane);
  };

  const mayStart = () => {
    if (calls.size < SLOTS) return true;
    if (calls.size >= MAX_CALLS) return false;
    const now = performance.now();
    for (const call of calls) if (now - call.startedAt < STALLED_MS) return false;
    return true;
  };

  /** The conversation's call is over: those behind it go next (it stays taken until they are done). */
  const release = (conversation: string) => {
    const behind = inCall.get(conversation) ?? [];
    if (behind.length > 0) ready.push(...behind.splice(0));
    else inCall.delete(conversation);
  };

  const goAlone = (waiting: Waiting, db: Sql) => waiting.alone(db).then(waiting.resolve, waiting.reject);

  /** Runs a batch on a lane; each conversation is released as soon as its own sends are answered. */
  const run = async (batch: Waiting[]) => {
    const lane = takeLane();
    const [only] = batch;
    if (batch.length === 1 && only) {
      await goAlone(only, lane);
      giveLane(lane);
      release(only.conversation);
      return;
    }
    let outcomes: (Outcome | undefined)[];
    try {
      outcomes = await runBatch(lane, batch);
    } catch (error) {
      giveLane(lane);
      for (const waiting of batch) waiting.reject(error);
      for (const conversation of new Set(batch.map((w) => w.conversation))) release(conversation);
      return;
    }
    giveLane(lane);
    const byConversation = new Map<string, [Waiting, Outcome | undefined][]>();
    batch.forEach((waiting, i) => {
      const mine = byConversation.get(waiting.conversation) ?? [];
      mine.push([waiting, outcomes[i]]);
      byConversation.set(waiting.conversation, mine);
    });
    for (const [conversation, sends] of byConversation) {
      // Sends that met the lock timeout go alone, in order; the conversation's others are answered now.
      void (async () => {
        for (const [waiting, outcome] of sends) {
          if (outcome && !('error' in outcome && outcome.error.code === LOCK_TIMEOUT))
            settle(waiting, outcome);
          else await goAlone(waiting, sql);
        }
        release(conversation);
        pump();
      })();
    }
  };

  const pump = () => {
    while (ready.length > 0 && mayStart()) {
      const batch = ready.splice(0, MAX_BATCH);
      const call = { startedAt: performance.now() };
      calls.add(call);
      void run(batch).finally(() => {
        calls.delete(call);
        pump();
      });
    }
    // Sends still waiting: look again once the calls in flight count as stalled.
    if (ready.length > 0 && !stallTimer) {
      stallTimer = setTimeout(() => {
        stallTimer = undefined;
        pump();
      }, STALLED_MS);
      stallTimer.unref();
    }
  };

  return {
    send(conversationId, send, alone) {
      const conversation = String(conversationId);
      return new Promise((resolve, reject) => {
        const waiting: Waiting = { conversation, send, alone, resolve, reject };
        const behind = inCall.get(conversation);
        if (behind) {
          behind.push(waiting);
          return;
        }
        inCall.set(conversation, []);
        ready.push(waiting);
        pump();
      });
    },
  };
}
