/**
 * Hello world on the Hono layer, for the HTTP benchmark: one route answering `{"status":"ok"}`, served
 * by server/http-server.ts exactly as `npm start` serves the real app (@hono/node-server, the same
 * timeouts). Compared with bench/lib/raw-hello.ts, it measures what Hono and its Node adapter cost per
 * request, with no database work. Prints "listening on <url>"; stops on SIGTERM/SIGINT.
 */
import { Hono } from 'hono';
import { loadConfig } from '../../server/config.ts';
import { startHttpServer } from '../../server/http-server.ts';

const app = new Hono();
app.get('/hello', (c) => c.json({ status: 'ok' }));

// The defaults of every server setting, on a free loopback port.
const config = loadConfig({ PORT: '0', HOST: '127.0.0.1' });
const server = await startHttpServer(app, config);
console.log(`listening on ${server.url}`);

const stop = () => void server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop).on('SIGINT', stop);
