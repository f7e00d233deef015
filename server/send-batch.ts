/**
 * Group commit for sends into one conversation. While a send into a conversation is in flight, the
 * next sends into it wait here and then go together, in arrival order, in one transaction through
 * chat_server.send_messages: one commit flush, one event lock and one NOTIFY for all of them, instead
 * of a queue of transactions each holding the conversation's row lock through its own flush. A send
 * that finds its conversation idle goes at once, alone, through chat.send_message: no added wait.
 *
 * The rules stay in chat.send_message, which the batch function calls once per message inside its
 * own savepoint, so each caller gets exactly the answer a send of its own would have had: its message,
 * or its own refusal while the others go through. Batches never mix conversations: a conversation
 * whose row lock is held elsewhere (a psql session, another process) holds up only its own sends, as
 * it would without batching.
 */
import type { Argument } from './catalog.ts';
import { type Sql, sentWithin } from './db.ts';
import { SqlRefusal } from './errors.ts';

/** One send, as checked by server/rpc.ts: argument name → value. */
export type SendArguments = Map<Argument, unknown>;

/** What chat_server.send_messages answers for each send, in order. */
type Outcome = { message: unknown } | { error: { code: string; message: string; hint: string | null } };

interface Waiting {
  send: Record<string, unknown>;
  resolve(message: unknown): void;
  reject(error: unknown): void;
}

/** More than this many waiting sends go in several batches: one transaction stays short. */
export const MAX_BATCH = 100;

export interface SendBatcher {
  /** Sends into a conversation; resolves with the message as chat.send_message returns it. */
  send(
    actor: string,
    conversationId: string | number,
    args: SendArguments,
    sendAlone: () => Promise<unknown>,
  ): Promise<unknown>;
}

export function createSendBatcher(sql: Sql): SendBatcher {
  /** Conversations with a send in flight, and the sends waiting for it to finish. */
  const waitingBy = new Map<string, Waiting[]>();

  const runBatch = async (batch: Waiting[]) => {
    try {
      const [row] = await sentWithin(
        sql.unsafe(
          'select chat_server.send_messages($1::text::jsonb) as outcomes',
          [JSON.stringify(batch.map((w) => w.send))],
          { prepare: true },
        ),
      );
      const outcomes = (row?.outcomes ?? []) as Outcome[];
      batch.forEach((waiting, i) => {
        const outcome = outcomes[i];
        if (outcome && 'message' in outcome) waiting.resolve(outcome.message);
        else if (outcome)
          waiting.reject(new SqlRefusal(outcome.error.code, outcome.error.message, outcome.error.hint));
        else
          waiting.reject(
            new Error(`chat_server.send_messages answered ${outcomes.length} of ${batch.length} sends`),
          );
      });
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
    }
  };

  /** Runs what waits for `key`, batch after batch, until nothing does; then the conversation is idle. */
  const drain = async (key: string) => {
    for (let waiting = waitingBy.get(key); waiting && waiting.length > 0; waiting = waitingBy.get(key)) {
      await runBatch(waiting.splice(0, MAX_BATCH));
    }
    waitingBy.delete(key);
  };

  return {
    async send(actor, conversationId, args, sendAlone) {
      const key = String(conversationId);
      const waiting = waitingBy.get(key);
      if (waiting) {
        const send: Record<string, unknown> = { actor };
        for (const [arg, value] of args) send[arg.name] = value;
        return new Promise((resolve, reject) => waiting.push({ send, resolve, reject }));
      }
      waitingBy.set(key, []);
      try {
        return await sendAlone();
      } finally {
        void drain(key);
      }
    },
  };
}
