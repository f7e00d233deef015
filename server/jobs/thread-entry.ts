/** The job runner's thread (server/jobs/thread.ts): its own pool, LISTEN through the parent. */
import { parentPort, workerData } from 'node:worker_threads';
import { connectDatabase } from '../db.ts';
import { carryOnAfterLostConnections } from '../errors.ts';
import { log, setLogLevel } from '../logger.ts';
import type { Listen } from '../webhooks/wake.ts';
import type { FromThread, ThreadData, ToThread } from './thread.ts';
import { startWorker } from './worker.ts';

/** Jobs mostly wait on their receivers; their queries are short. */
const POOL_MAX = 4;

const port = parentPort;
if (!port) throw new Error('server/jobs/thread-entry.ts runs as a worker thread');
const { databaseUrl, config, poolOptions } = workerData as ThreadData;
setLogLevel(config.logLevel);
carryOnAfterLostConnections();
const send = (message: FromThread) => port.postMessage(message);

const channels = new Map<string, { onNotify: (payload: string) => void; onListen?: () => void }>();
/** Settles a listen() at its channel's first `listening` (or `not-listening`). */
const firstListen = new Map<string, (error?: Error) => void>();

const listen: Listen = (channel, onNotify, onListen) =>
  new Promise((resolve, reject) => {
    channels.set(channel, { onNotify, onListen });
    firstListen.set(channel, (error) => {
      if (error) {
        channels.delete(channel);
        reject(error);
        return;
      }
      resolve({
        unlisten: async () => {
          channels.delete(channel);
          send({ type: 'unlisten', channel });
        },
      });
    });
    send({ type: 'listen', channel });
  });

const sql = connectDatabase(databaseUrl, {
  ...poolOptions,
  max: POOL_MAX,
  applicationName: 'microchatter-jobs',
});
let runner: Awaited<ReturnType<typeof startWorker>>;

const settleFirstListen = (channel: string, error?: Error) => {
  firstListen.get(channel)?.(error);
  firstListen.delete(channel);
};

port.on('message', (message: ToThread) => {
  if (message.type === 'notify') channels.get(message.channel)?.onNotify(message.payload);
  else if (message.type === 'listening') {
    channels.get(message.channel)?.onListen?.();
    settleFirstListen(message.channel);
  } else if (message.type === 'not-listening') {
    settleFirstListen(
      message.channel,
      new Error(`could not listen on ${message.channel}: ${message.message}`),
    );
  } else if (message.type === 'stop') void stop();
});

async function stop(): Promise<void> {
  try {
    await runner?.stop();
    await sql.end({ timeout: 5 });
  } catch (error) {
    log.error({ err: error }, 'job runner thread: stop failed');
  }
  process.exit(0);
}

try {
  runner = await startWorker(databaseUrl, sql, config, listen);
  send({ type: 'started' });
} catch (error) {
  send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  await sql.end({ timeout: 5 });
}
