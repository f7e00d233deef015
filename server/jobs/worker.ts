/**
 * The job runner: graphile-worker in the server process, on the application's database (its own
 * schema, graphile_worker, installed by server/migrate.ts and again by the runner itself). Jobs are
 * enqueued from SQL, in the transaction of the change, so psql and HTTP enqueue alike; one file per
 * task in this directory.
 */
import { Logger, type Runner, run, type TaskList } from 'graphile-worker';
import type { Config } from '../config.ts';
import type { Sql } from '../db.ts';
import { log } from '../logger.ts';
import { deliverWebhooks } from './deliver_webhooks.ts';
import { kickWebhooks } from './kick_webhooks.ts';

export interface Worker {
  stop(): Promise<void>;
}

export function taskList(sql: Sql, config: Config): TaskList {
  return {
    deliver_webhooks: deliverWebhooks(sql, config),
    kick_webhooks: kickWebhooks(sql),
  };
}

/** graphile-worker logs through pino; its per-job lines are debug, problems stay visible. */
function workerLogFactory(scope: Record<string, unknown>) {
  return (level: string, message: string, meta?: unknown) => {
    const fields = { scope: 'worker', task: scope.taskIdentifier, job: scope.jobId, meta };
    if (level === 'error') log.error(fields, message);
    else if (level === 'warning') log.warn(fields, message);
    else log.debug(fields, message);
  };
}

export async function startWorker(
  databaseUrl: string,
  sql: Sql,
  config: Config,
): Promise<Worker | undefined> {
  if (config.workerConcurrency === 0) return undefined;
  const runner: Runner = await run({
    connectionString: databaseUrl,
    concurrency: config.workerConcurrency,
    // Its pool: one connection per concurrent job plus the LISTEN connection.
    maxPoolSize: config.workerConcurrency + 2,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: new Logger(workerLogFactory),
    taskList: taskList(sql, config),
    crontab: ['* * * * * kick_webhooks ?max=1'].join('\n'),
  });
  // Deliveries written while no worker ran (or before graphile-worker was installed) go out now.
  await sql`select chat_server.kick_webhooks()`;
  return {
    async stop() {
      await runner.stop();
    },
  };
}
