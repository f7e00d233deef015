/** `npm start`: configuration → database → migrations → HTTP server, and a clean shutdown on signals. */
import { serve } from '@hono/node-server';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { connectDatabase } from './db.ts';
import { startEmbeddedPostgres } from './embedded.ts';
import { applyMigrations } from './migrate.ts';

async function main(): Promise<void> {
  const config = loadConfig();
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

  const sql = connectDatabase(databaseUrl);
  const server = serve({ fetch: createApp(sql).fetch, hostname: config.host, port: config.port }, (info) => {
    const database = embedded ? `embedded at ${config.dataDir}` : 'external';
    console.log(`Microchatter listening on http://${config.host}:${info.port} (database: ${database})`);
  });

  let shuttingDown = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (shuttingDown) return;
    shuttingDown = true;
    // Without this a stuck step would leave the process hanging until the supervisor kills it.
    setTimeout(() => {
      console.error(`Microchatter: shutdown after ${signal} took over 10 s, exiting`);
      process.exit(1);
    }, 10_000).unref();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await sql.end({ timeout: 5 });
    await embedded?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(`Microchatter failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
