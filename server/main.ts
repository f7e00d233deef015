/** `npm start`: configuration → database → migrations → HTTP server, and a clean shutdown on signals. */
import { createApp } from './app.ts';
import { createAuth } from './auth.ts';
import { loadCatalog } from './catalog.ts';
import { loadConfig } from './config.ts';
import { connectDatabase, type PoolOptions, queriesInFlight, type Sql } from './db.ts';
import { demoRoutes } from './demo.ts';
import { startEmbeddedPostgres } from './embedded.ts';
import { carryOnAfterLostConnections } from './errors.ts';
import { startRealtime } from './events/realtime.ts';
import { startHttpServer } from './http-server.ts';
import { startWorkerThread } from './jobs/thread.ts';
import { log, setLogLevel } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { applyMigrations } from './migrate.ts';
import { version } from './version.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  setLogLevel(config.logLevel);
  const embedded = config.databaseUrl
    ? undefined
    : await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort });
  const databaseUrl = config.databaseUrl ?? embedded?.url;
  if (!databaseUrl) throw new Error('unreachable: no database URL');

  try {
    if (config.migrate) await applyMigrations(databaseUrl);
  } catch (error) {
    await embedded?.stop();
    throw error;
  }

  const poolOptions: PoolOptions = {
    max: config.dbPoolMax,
    sendRatePerMinute: config.sendRatePerMinute,
    webhookAllowPrivate: config.webhookAllowPrivate,
    sendSynchronousCommit: config.sendSynchronousCommit,
  };
  const sql = connectDatabase(databaseUrl, poolOptions);
  // The send path's own connections, at most two (server/send-batch.ts), beside the pool.
  const sendLanes: Sql[] = [];
  const openSendLane = () => {
    const lane = connectDatabase(databaseUrl, {
      ...poolOptions,
      max: 1,
      applicationName: 'microchatter-sends',
    });
    sendLanes.push(lane);
    return lane;
  };
  const auth = await createAuth(config, sql);
  let metrics: Metrics | undefined;
  const relayReads = connectDatabase(databaseUrl, {
    ...poolOptions,
    max: 1,
    applicationName: 'microchatter-relay',
  });
  const realtime = await startRealtime(
    sql,
    config,
    (events, seconds) => metrics?.observeRelay(events, seconds),
    relayReads,
  );
  metrics = config.metricsToken
    ? createMetrics(config.metricsToken, {
        openStreams: () => realtime.hub.streamCount(),
        queriesInFlight,
        poolMax: config.dbPoolMax,
        webhookBacklog: async () => {
          const [row] = await sql<{ pending: number; failed: number }[]>`
            select coalesce(sum(pending), 0)::int as pending, coalesce(sum(failed), 0)::int as failed
            from chat_admin.list_webhooks()`;
          return row ?? { pending: 0, failed: 0 };
        },
      })
    : undefined;
  // DEMO ONLY: the dev sign-in mints tokens for anyone (server/demo.ts).
  const demo = (config.demo ?? !config.databaseUrl) ? await demoRoutes({ auth, sql }) : undefined;
  if (demo) log.warn('MICROCHATTER_DEMO: /demo is on, and its sign-in lets anyone act as any user');
  const app = createApp({
    demo,
    metrics,
    maxInFlight: config.maxInFlight,
    groupCommit: config.groupCommit,
    openSendLane,
    logRequests: true,
    sql,
    catalog: await loadCatalog(sql),
    auth,
    bodyLimit: config.bodyLimit,
    attachmentLimit: config.attachmentLimit,
    corsOrigins: config.corsOrigins,
    realtime,
    maxStreamsPerUser: config.maxStreamsPerUser,
  });
  const server = await startHttpServer(app, config);
  const worker = await startWorkerThread({ databaseUrl, config, poolOptions }, sql);
  const database = embedded ? `embedded at ${config.dataDir}` : 'external';
  log.info({ url: server.url, version }, `Microchatter listening on ${server.url} (database: ${database})`);

  let shuttingDown = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (shuttingDown) return;
    shuttingDown = true;
    // Without this a stuck step would leave the process hanging until the supervisor kills it.
    setTimeout(() => {
      log.error(`Microchatter: shutdown after ${signal} took over 10 s, exiting`);
      process.exit(1);
    }, 10_000).unref();
    // Stop taking connections, then end the event streams, which would otherwise keep it open. The job
    // runner stops meanwhile: jobs in flight get 2 s to finish, then are told to abort and hand their
    // work back to the queue, so it is done well within a supervisor's usual 10 s.
    const closed = server.close();
    const workerStopped = worker?.stop();
    await realtime.stop();
    await closed;
    await workerStopped;
    auth.close();
    await Promise.all([sql, relayReads, ...sendLanes].map((pool) => pool.end({ timeout: 5 })));
    await embedded?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  carryOnAfterLostConnections();
}

main().catch((error: unknown) => {
  console.error(`Microchatter failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
