/** The HTTP surface. Routes are added here; the chat rules stay in SQL. */
import { Hono } from 'hono';
import type { Sql } from './db.ts';

export function createApp(sql: Sql): Hono {
  const app = new Hono();

  // For load balancers and orchestrators: healthy means this process can reach its database.
  app.get('/healthz', async (c) => {
    try {
      await sql`select 1`;
      return c.json({ status: 'ok' });
    } catch {
      return c.json({ error: { code: 'MCDBX', message: 'database unreachable' } }, 503);
    }
  });

  return app;
}
