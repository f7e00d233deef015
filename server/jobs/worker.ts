/**
 * The job runner: graphile-worker in the server process (in a thread of its own, server/jobs/thread.ts),
 * on the application's database (its own schema, graphile_worker, installed by server/migrate.ts and
 * again by the runner itself). Jobs are
 * enqueued from SQL, in the transaction of the change, so psql and HTTP enqueue alike; one file per
 * task in this directory.
 */
import { EventEmitter } from 'node:events';
import { Logger, type Runner, run, type TaskList, type WorkerEvents } from 'graphile-worker';
import type { Config } from '../config.ts';
import type { Sql } from '../db.ts';
import { log } from '../logger.ts';
import { type Listen, startWebhookWaker, type WebhookWaker } from '../webhooks/wake.ts';
import { applyMessageRetention } from './apply_message_retention.ts';
import { deliverWebhooks, FAILING_AFTER } from './deliver_webhooks.ts';
import { kickWebhooks } from './kick_webhooks.ts';
import { pruneAttachments } from './prune_attachments.ts';
import { pruneEvents } from './prune_events.ts';
import { pushNeeded } from './push_needed.ts';

export interface Worker {
  stop(): Promise<void>;
}

/** What the runner gets to finish its jobs in on shutdown before they are told to abort. */
const SHUTDOWN_ABORT_MS = 2_000;

/** `waker`: this process's listener for new deliveries (server/webhooks/wake.ts), which delivery needs. */
export function taskList(sql: Sql, config: Config, waker?: WebhookWaker): TaskList {
  return {
    ...(waker ? { deliver_webhooks: deliverWebhooks(sql, config, waker) } : {}),
    kick_webhooks: kickWebhooks(sql),
    push_needed: pushNeeded(sql, config.pushDelaySeconds),
    prune_events: pruneEvents(sql, config.eventRetentionDays),
    prune_attachments: pruneAttachments(sql),
    apply_message_retention: applyMessageRetention(sql, config.messageRetentionDays),
  };
}

/**
 * graphile-worker runs each line once per scheduled time across all processes. ?max=1: a failed run is
 * not retried, the next one comes soon enough.
 */
export const crontab = [
  '* * * * * kick_webhooks ?max=1',
  '7 * * * * prune_events ?max=1',
  '17 * * * * prune_attachments ?max=1',
  '37 * * * * apply_message_retention ?max=1',
].join('\n');

/** graphile-worker logs through pino; its per-job lines are debug, problems stay visible. */
function workerLogFactory(scope: Record<string, unknown>) {
  return (level: string, message: string, meta?: unknown) => {
    const fields = { scope: 'worker', task: scope.taskIdentifier, job: scope.jobId, meta };
    if (level === 'error') log.error(fields, message);
    else if (level === 'warning') log.warn(fields, message);
    else log.debug(fields, message);
  };
}

/**
 * graphile-worker unlocks the jobs of a process that died (SIGKILL, OOM, a lost host) only after 4
 * hours, and a locked job holds its whole queue: one webhook stream would stall that long. So each
 * worker pool holds a lease it renews every third of MICROCHATTER_WORKER_LEASE_SECONDS, and every
 * process, at the same pace, unlocks the jobs of pools whose lease ran out
 * (chat_server.unlock_dead_workers, through graphile_worker.force_unlock_workers).
 */
function holdLease(sql: Sql, poolIds: Set<string>, leaseSeconds: number): () => void {
  const beat = async () => {
    try {
      for (const id of poolIds) await sql`select chat_server.renew_worker_lease(${id}, ${leaseSeconds})`;
      const [{ unlocked }] = await sql<{ unlocked: number }[]>`
        select chat_server.unlock_dead_workers(${leaseSeconds}) as unlocked`;
      if (unlocked > 0)
        log.warn({ unlocked }, 'unlocked the jobs of job runners that stopped renewing their lease');
    } catch (error) {
      log.warn({ err: error }, 'job runner lease: renewal failed, trying again');
    }
  };
  void beat();
  const timer = setInterval(() => void beat(), (leaseSeconds * 1000) / 3);
  timer.unref();
  return () => clearInterval(timer);
}

/** graphile-worker's own connections say so, so that a shutdown can wait for them to be gone. */
const WORKER_APPLICATION_NAME = `microchatter-worker-${process.pid}`;

function withApplicationName(databaseUrl: string, name: string): string {
  try {
    const url = new URL(databaseUrl);
    if (!url.searchParams.has('application_name')) url.searchParams.set('application_name', name);
    return url.toString();
  } catch {
    return databaseUrl; // a keyword/value connection string: left as it is
  }
}

/**
 * graphile-worker ends its pool without waiting for it (its releaser does not await pool.end()): wait,
 * at most a second, until its connections are gone, so that a database stopped right after (the
 * embedded one) sees no connection cut off.
 */
async function poolClosed(sql: Sql): Promise<void> {
  const deadline = Date.now() + 1000;
  while (Date.now() < deadline) {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity
      where application_name = ${WORKER_APPLICATION_NAME} and pid <> pg_backend_pid()`.catch(() => [
      { n: 0 },
    ]);
    if (!row?.n) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** `listen`: how the webhook waker listens (default: `sql.listen`; server/jobs/thread.ts). */
export async function startWorker(
  databaseUrl: string,
  sql: Sql,
  config: Config,
  listen?: Listen,
): Promise<Worker | undefined> {
  if (config.workerConcurrency === 0) return undefined;
  const events: WorkerEvents = new EventEmitter();
  const poolIds = new Set<string>();
  events.on('pool:create', ({ workerPool }) => poolIds.add(workerPool.id));
  // Listening first: its first connect sweeps up deliveries written while no worker ran (or before
  // graphile-worker was installed), which the runner then takes at its start.
  const waker = await startWebhookWaker(sql, {
    failingAfter: FAILING_AFTER,
    failingDelayMs: config.webhookRetryBaseMs,
    listen,
  });
  const runner: Runner = await run({
    connectionString: withApplicationName(databaseUrl, WORKER_APPLICATION_NAME),
    concurrency: config.workerConcurrency,
    // Its pool: one connection per concurrent job plus the LISTEN connection.
    maxPoolSize: config.workerConcurrency + 2,
    noHandleSignals: true,
    pollInterval: 1000,
    events,
    preset: {
      worker: {
        // With batching off (-1, the default) a job's completion is sent without being awaited, and a
        // shutdown does not wait for it: the process exits with the job and its queue still locked,
        // for 4 hours. A batcher (even of 0 ms) is flushed before the runner's stop() resolves.
        completeJobBatchDelay: 0,
        failJobBatchDelay: 0,
        gracefulShutdownAbortTimeout: SHUTDOWN_ABORT_MS,
      },
    },
    logger: new Logger(workerLogFactory),
    taskList: taskList(sql, config, waker),
    crontab,
  }).catch(async (error: unknown) => {
    await waker.stop();
    throw error;
  });
  const releaseLease = holdLease(sql, poolIds, config.workerLeaseSeconds);
  return {
    async stop() {
      await waker.stop();
      await runner.stop();
      releaseLease();
      await poolClosed(sql);
    },
  };
}
