/**
 * Every request gets an id (the client's X-Request-Id when it is sane, else a fresh one), echoed in
 * the response, attached to every log line of the request, and one info line when it is answered:
 * method, route, status, milliseconds, request id, user id. Metrics see the same answer.
 */
import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { type Logger, log } from './logger.ts';
import type { Metrics } from './metrics.ts';

/** Ids a client may choose: short, printable, no spaces or quotes that could forge log fields. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

export interface RequestInfo {
  requestId: string;
  log: Logger;
  /** Set once the credentials are verified. */
  userId?: string;
}

const infoByContext = new WeakMap<Context, RequestInfo>();

/** The request's id and logger; outside a logged request (in-process tests), the root logger. */
export function requestInfo(c: Context): RequestInfo {
  return infoByContext.get(c) ?? { requestId: '', log };
}

/** The route as registered (`/rpc/:name` becomes `/rpc/send_message` for known functions). */
function routeOf(c: Context, knownName: (name: string) => boolean): string {
  const route = c.req.routePath;
  const name = c.req.param('name');
  if (name && route.includes(':name') && knownName(name)) return route.replace(':name', name);
  return route === '/*' || route === '*' ? 'unmatched' : route;
}

export function requestIds(options: {
  metrics?: Metrics | undefined;
  /** Whether to write the per-request info line (servers do; in-process tests need not). */
  log: boolean;
  knownFunction: (name: string) => boolean;
}): MiddlewareHandler {
  return async (c, next) => {
    const given = c.req.header('x-request-id');
    const requestId = given && SANE_REQUEST_ID.test(given) ? given : randomUUID();
    // The child logger only when a request logs something of its own: most never do.
    let child: Logger | undefined;
    const info: RequestInfo = {
      requestId,
      get log() {
        child ??= log.child({ request_id: requestId });
        return child;
      },
    };
    infoByContext.set(c, info);
    const started = performance.now();
    await next();
    c.res.headers.set('X-Request-Id', requestId);
    const ms = performance.now() - started;
    const route = routeOf(c, options.knownFunction);
    options.metrics?.observeRequest(c.req.method, route, c.res.status, ms / 1000);
    if (!options.log) return;
    log.info(
      {
        request_id: requestId,
        method: c.req.method,
        route,
        status: c.res.status,
        ms: Math.round(ms * 10) / 10,
        user_id: info.userId,
      },
      'request',
    );
  };
}
