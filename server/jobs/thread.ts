/**
 * The job runner (server/jobs/worker.ts) runs in a thread of the server process, with a small pool of
 * its own: webhook posting, signing and its queries never take turns of the event loop that answers
 * requests (bench/webhooks.ts, sends/s with a webhook ÷ without: median 0.825 against 0.77 over four
 * runs each, docs/webhooks.md). It listens through the parent's connection (one LISTEN per process):
 * the parent forwards what the thread asked for, and tells it at every (re)connect.
 *
 * If the thread fails (an error nothing handled), the process ends, as it did when the jobs shared
 * its thread; a supervisor starts it again.
 */
import { Worker } from 'node:worker_threads';
import type { Config } from '../config.ts';
import type { PoolOptions, Sql } from '../db.ts';
import { log } from '../logger.ts';
import type { Worker as JobRunner } from './worker.ts';

/** What the thread starts from (its workerData). */
export interface ThreadData {
  databaseUrl: string;
  config: Config;
  poolOptions: PoolOptions;
}

export type ToThread =
  | { type: 'notify'; channel: string; payload: string }
  | { type: 'listening'; channel: string }
  | { type: 'not-listening'; channel: string; message: string }
  | { type: 'stop' };

export type FromThread =
  | { type: 'listen'; channel: string }
  | { type: 'unlisten'; channel: string }
  | { type: 'started' }
  | { type: 'failed'; message: string };

/** The thread's stop() waits this long for its jobs (they get 2 s, then abort) before it is cut off. */
const STOP_TIMEOUT_MS = 8_000;

export async function startWorkerThread(data: ThreadData, sql: Sql): Promise<JobRunner | undefined> {
  if (data.config.workerConcurrency === 0) return undefined;
  const thread = new Worker(new URL('./thread-boot.mjs', import.meta.url), {
    workerData: { ...data, entry: new URL('./thread-entry.ts', import.meta.url).href },
  });
  /** The channels the thread hears, each with its listen (settled or not: an unlisten may come first). */
  const listens = new Map<string, Promise<{ unlisten(): Promise<unknown> } | undefined>>();
  let stopping = false;
  const send = (message: ToThread) => thread.postMessage(message);
  const unlisten = (channel: string) => {
    const listening = listens.get(channel);
    listens.delete(channel);
    return listening?.then((listener) => listener?.unlisten()).catch(() => undefined);
  };

  const started = new Promise<void>((resolve, reject) => {
    thread.on('message', (message: FromThread) => {
      if (message.type === 'started') resolve();
      else if (message.type === 'failed') reject(new Error(message.message));
      else if (message.type === 'listen') {
        const { channel } = message;
        const listening = sql
          .listen(
            channel,
            (payload) => send({ type: 'notify', channel, payload }),
            () => send({ type: 'listening', channel }),
          )
          .catch((error: unknown) => {
            send({
              type: 'not-listening',
              channel,
              message: error instanceof Error ? error.message : String(error),
            });
            return undefined;
          });
        listens.set(channel, listening);
      } else if (message.type === 'unlisten') void unlisten(message.channel);
    });
    thread.once('error', reject);
    thread.once('exit', (code) => reject(new Error(`the job runner thread exited (${code}) while starting`)));
  });
  const stopListening = () => Promise.all([...listens.keys()].map(unlisten));
  try {
    await started;
  } catch (error) {
    await stopListening();
    await thread.terminate();
    throw error;
  }
  thread.on('error', (error) => {
    log.fatal({ err: error }, 'the job runner thread failed; exiting');
    process.exit(1);
  });
  thread.on('exit', (code) => {
    if (stopping) return;
    log.fatal({ code }, 'the job runner thread exited; exiting');
    process.exit(1);
  });
  return {
    async stop() {
      stopping = true;
      const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
      send({ type: 'stop' });
      const timer = setTimeout(() => {
        log.warn('job runner thread: stop took over 8 s, cutting it off');
        void thread.terminate();
      }, STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
      await stopListening();
    },
  };
}
