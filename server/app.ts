/**
 * The HTTP surface: a generic bridge to the SQL API plus the few routes that are not SQL functions
 * (health, auth, API description). The chat rules stay in SQL.
 */
import { type Context, Hono } from 'hono';
import { cors } from 'hono/cors';
import { attachmentRoutes } from './attachments.ts';
import type { Auth, Principal } from './auth.ts';
import { authRoutes } from './auth-routes.ts';
import { limitBodies } from './body-limit.ts';
import type { ApiFunction, Argument, Catalog } from './catalog.ts';
import { type Sql, sentWithin } from './db.ts';
import { renderDocsPage } from './docs-page.ts';
import { ApiError, errorResponse } from './errors.ts';
import type { Realtime } from './events/realtime.ts';
import { eventRoutes } from './events/routes.ts';
import { boundInFlight } from './load-shedding.ts';
import type { Metrics } from './metrics.ts';
import { openApiDocument } from './openapi.ts';
import { requestIds, requestInfo } from './request-log.ts';
import { callFunction, checkArguments, fromQueryString } from './rpc.ts';
import { createSendBatcher } from './send-batch.ts';
import { version } from './version.ts';

export interface AppOptions {
  sql: Sql;
  catalog: Catalog;
  auth: Auth;
  /** Largest request body in bytes, whatever Content-Length claims. */
  bodyLimit: number;
  /** Largest attachment upload in bytes (POST /attachments streams, the body limit is not its); default 10 MiB. */
  attachmentLimit?: number;
  /** Origins whose pages may call the API from the browser, with credentials; none: no CORS. */
  corsOrigins?: string[];
  /** Event streams (GET /events); absent: no streams (in-process tests of the RPC layer). */
  realtime?: Realtime | undefined;
  maxStreamsPerUser?: number;
  /** Requests handled at once before 503 (streams and probes exempt); absent: no bound. */
  maxInFlight?: number | undefined;
  /** GET /metrics for holders of the metrics token; absent: no /metrics. */
  metrics?: Metrics | undefined;
  /** One log line per request (request ids are always given). */
  logRequests?: boolean;
  /** Concurrent sends into one conversation commit together (server/send-batch.ts); default true. */
  groupCommit?: boolean;
  /** Opens a connection of the send path's own (server/send-batch.ts); absent: sends use `sql`. */
  openSendLane?: () => Sql;
  /** GET /demo and its dev sign-in (server/demo.ts); absent: no demo (production). */
  demo?: Hono | undefined;
}

/** The TCP peer under @hono/node-server; in-process requests (tests) have none. */
function peerAddress(c: Context): string | undefined {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress;
}

/** The conversation a send goes into when it names one (a send to a recipient may start a chat). */
function conversationOf(args: Map<Argument, unknown>): string | number | undefined {
  let conversationId: string | number | undefined;
  for (const [arg, value] of args) {
    if (arg.name === 'recipient') return undefined;
    if (arg.name === 'conversation_id') conversationId = value as string | number;
  }
  return conversationId;
}

/** A call's arguments by name, with the actor: one send as chat_server.send_messages takes it. */
function namedArguments(actor: string | null, args: Map<Argument, unknown>): Record<string, unknown> {
  const named: Record<string, unknown> = { actor };
  for (const [arg, value] of args) named[arg.name] = value;
  return named;
}

/** Reads the request's JSON arguments; an empty body means no arguments. */
async function readArguments(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError('MCTYP', 'send arguments as Content-Type: application/json');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError('MCJSN', 'the request body is not valid JSON');
  }
}

export function createApp(options: AppOptions): Hono {
  const { sql, catalog, auth } = options;
  const app = new Hono();
  app.onError((error, c) => errorResponse(c, error));
  app.notFound((c) => errorResponse(c, new ApiError('MCNFD', `no endpoint ${c.req.method} ${c.req.path}`)));
  const inFlight = options.maxInFlight ? boundInFlight(options.maxInFlight) : undefined;
  app.use(
    '*',
    requestIds({
      metrics: options.metrics,
      log: options.logRequests ?? false,
      knownFunction: (name) => Boolean(catalog.find('chat', name) ?? catalog.find('chat_admin', name)),
    }),
  );
  if (inFlight) app.use('*', inFlight.middleware);
  if (options.corsOrigins?.length) {
    app.use(
      '*',
      cors({
        origin: options.corsOrigins,
        credentials: true,
        allowHeaders: ['Authorization', 'Content-Type', 'Last-Event-ID'],
        allowMethods: ['GET', 'POST'],
        exposeHeaders: ['Retry-After'],
        maxAge: 600,
      }),
    );
  }
  // Only requests with bodies: the check reads the raw request, which costs every GET a Request object.
  // Uploads are streamed to the database under their own limit (server/attachments.ts).
  const limitJsonBodies = limitBodies(options.bodyLimit, (c) =>
    errorResponse(c, new ApiError('MCTOO', `request bodies are limited to ${options.bodyLimit} bytes`)),
  );
  app.on('POST', '*', (c, next) => (c.req.path === '/attachments' ? next() : limitJsonBodies(c, next)));

  // For load balancers and orchestrators: healthy means this process can reach its database.
  app.get('/healthz', async (c) => {
    try {
      await sentWithin(sql`select 1`);
      return c.json({ status: 'ok', version });
    } catch {
      return c.json({ error: { code: 'MCDBX', message: 'database unreachable' } }, 503);
    }
  });

  const metrics = options.metrics;
  if (metrics) {
    app.get('/metrics', async (c) => {
      if (!metrics.authorised(c.req.header('authorization'))) {
        throw new ApiError('MCAUT', 'GET /metrics needs the metrics token as a Bearer token', {
          'WWW-Authenticate': 'Bearer realm="metrics"',
        });
      }
      return c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType });
    });
  }

  app.get('/openapi.json', (c) => c.json(openApiDocument(catalog)));
  if (options.demo) app.route('/', options.demo);
  app.get('/docs', (c) => c.html(renderDocsPage(catalog)));

  app.route('/', authRoutes(auth, sql));
  const principalOf = async (c: Context): Promise<Principal> => {
    const principal = await auth.authenticate(c.req.raw, auth.clientAddress(c.req.raw, peerAddress(c)));
    requestInfo(c).userId = principal.kind === 'user' ? principal.userId : 'admin';
    return principal;
  };

  const userIdOf = async (c: Context): Promise<string> => {
    const principal = await principalOf(c);
    if (principal.kind !== 'user') {
      throw new ApiError(
        'MCUSR',
        "the admin token acts on /admin/rpc only; call /rpc with a user's credentials",
      );
    }
    return principal.userId;
  };
  app.route('/', attachmentRoutes({ sql, userIdOf, limit: options.attachmentLimit ?? 10_485_760 }));

  if (options.realtime) {
    const { hub, relay, accepting } = options.realtime;
    const maxStreamsPerUser = options.maxStreamsPerUser ?? 20;
    const corsOrigins = options.corsOrigins ?? [];
    app.route('/', eventRoutes({ sql, principalOf, hub, relay, accepting, maxStreamsPerUser, corsOrigins }));
  }

  // Sends into a named conversation go through group commit (server/send-batch.ts); every other call,
  // and a send to a recipient (it may have to create the chat), is a call of its own.
  const batcher = (options.groupCommit ?? true) ? createSendBatcher(sql, options.openSendLane) : undefined;
  const respond = async (c: Context, fn: ApiFunction, actor: string | null, input: unknown) => {
    const args = checkArguments(fn, input);
    const call = (db = sql) => callFunction(db, fn, actor, args);
    const batched = batcher && actor && fn.schema === 'chat' && fn.name === 'send_message';
    const conversationId = batched ? conversationOf(args) : undefined;
    const result =
      batcher && conversationId !== undefined
        ? await batcher.send(conversationId, namedArguments(actor, args), call)
        : await call();
    return result === undefined ? c.body(null, 204) : c.json(result);
  };

  const userFunction = async (c: Context) => {
    const actor = await userIdOf(c);
    const fn = catalog.find('chat', c.req.param('name') ?? '');
    if (!fn) throw new ApiError('MCNFD', `no function ${c.req.param('name')}`);
    if (c.req.method === 'GET') {
      if (!fn.readOnly) throw new ApiError('MCMTH', `${fn.name} changes data: use POST`);
      return respond(c, fn, actor, fromQueryString(fn, new URL(c.req.url).searchParams));
    }
    return respond(c, fn, actor, await readArguments(c));
  };
  app.get('/rpc/:name', userFunction);
  app.post('/rpc/:name', userFunction);

  app.post('/admin/rpc/:name', async (c) => {
    const fn = catalog.find('chat_admin', c.req.param('name'));
    const principal = await principalOf(c);
    if (principal.kind !== 'admin') throw new ApiError('MCADM', 'this endpoint needs admin credentials');
    if (!fn) throw new ApiError('MCNFD', `no admin function ${c.req.param('name')}`);
    return respond(c, fn, null, await readArguments(c));
  });

  return app;
}
