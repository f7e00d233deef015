/**
 * Request bodies up to a size, refused with 413 in a way that leaves a keep-alive connection usable.
 *
 * Hono's bodyLimit answers a too-long Content-Length without reading the body, but only after opening
 * the body as a web stream; that stream holds the socket paused, so the server cannot discard the rest
 * and cuts the connection after the client has been told it stays open. Here a declared length is
 * judged from the header alone (the body untouched, so @hono/node-server discards it after the answer),
 * and a chunked body is read and counted, the excess discarded. Bodies too large to be worth
 * discarding get `Connection: close`, so the client knows before the socket goes.
 */
import type { Context, MiddlewareHandler } from 'hono';

/** Beyond this many bytes a refused body is not read to its end: the connection closes instead. */
export const DISCARD_BUDGET = 8 * 1024 * 1024;

/**
 * Tells the client, and Node, that this connection ends after the answer (Node closes it only once the
 * answer is flushed). The Node response exists under @hono/node-server; in-process requests have none.
 */
export function closeAfterAnswer(c: Context): void {
  const outgoing = (c.env as { outgoing?: { shouldKeepAlive: boolean } } | undefined)?.outgoing;
  if (outgoing) outgoing.shouldKeepAlive = false;
  c.header('Connection', 'close');
}

export function limitBodies(maxBytes: number, tooLarge: (c: Context) => Response): MiddlewareHandler {
  return async (c, next) => {
    const declared = c.req.header('content-length');
    if (declared !== undefined && c.req.header('transfer-encoding') === undefined) {
      const length = Number(declared);
      if (!(length > maxBytes)) return next();
      if (length > DISCARD_BUDGET) closeAfterAnswer(c);
      return tooLarge(c);
    }
    const body = c.req.raw.body;
    if (!body) return next();
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size <= maxBytes) chunks.push(value);
      else if (size > DISCARD_BUDGET) {
        closeAfterAnswer(c);
        void reader.cancel().catch(() => undefined);
        return tooLarge(c);
      }
    }
    if (size > maxBytes) return tooLarge(c);
    c.req.raw = new Request(c.req.raw, { body: Buffer.concat(chunks) });
    return next();
  };
}
