/**
 * A bound on the requests one process handles at once. Past saturation, queueing more work only
 * makes every client wait until it times out; answering 503 with Retry-After at once lets clients
 * back off and the requests already admitted finish. Event streams, /healthz and /metrics are not
 * counted: a stream is long-lived by design, and probes must see the truth about a busy process.
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError, errorResponse } from './errors.ts';

const EXEMPT = new Set(['/events', '/healthz', '/metrics']);

export interface InFlight {
  middleware: MiddlewareHandler;
  /** Requests being handled now (counted ones only). */
  current(): number;
}

export function boundInFlight(max: number): InFlight {
  let current = 0;
  const middleware: MiddlewareHandler = async (c, next) => {
    if (EXEMPT.has(c.req.path)) return next();
    if (current >= max) {
      return errorResponse(c, new ApiError('MCBSY', 'the server is busy, try again', { 'Retry-After': '1' }));
    }
    current++;
    try {
      await next();
    } finally {
      current--;
    }
  };
  return { middleware, current: () => current };
}
