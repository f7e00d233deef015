/**
 * The two routes that hand out Microchatter's own tokens:
 * - POST /auth/token: HTTP Basic (a user's password) → {token, expires_at};
 * - POST /admin/rpc/issue_token: the site's backend, with admin credentials, mints a token for a user.
 * Mount before the generic /admin/rpc/:name route, which would otherwise look for a SQL function.
 */
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { type Auth, unauthorized, validUserId } from './auth.ts';
import type { Sql } from './db.ts';
import { ApiError, errorResponse } from './errors.ts';

/** The TCP peer under @hono/node-server; `app.request()` in tests has none. */
function peerAddress(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress;
}

/** The body of issue_token: a small JSON object, nothing else. */
async function readIssueTokenArguments(c: Context): Promise<{ userId: string; ttlSeconds?: number }> {
  const text = await c.req.text();
  let input: unknown = {};
  if (text.trim() !== '') {
    if (!/^application\/json\s*(;|$)/i.test(c.req.header('content-type') ?? '')) {
      throw new ApiError('MCTYP', 'send arguments as Content-Type: application/json');
    }
    try {
      input = JSON.parse(text);
    } catch {
      throw new ApiError('MCJSN', 'the request body is not valid JSON');
    }
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ApiError('MCJSN', 'the request body must be a JSON object of named arguments');
  }
  const args = input as Record<string, unknown>;
  const unknown = Object.keys(args).find((name) => name !== 'user_id' && name !== 'ttl_seconds');
  if (unknown !== undefined) throw new ApiError('MCARG', `unknown argument ${unknown}`);
  const userId = validUserId(args.user_id);
  if (typeof args.user_id !== 'string' || userId === undefined) {
    throw new ApiError('MCARG', 'user_id must be a string of 1 to 200 characters without control characters');
  }
  const ttl = args.ttl_seconds;
  if (ttl === undefined || ttl === null) return { userId };
  if (typeof ttl !== 'number') throw new ApiError('MCARG', 'ttl_seconds must be a whole number of seconds');
  return { userId, ttlSeconds: ttl };
}

export function authRoutes(auth: Auth, sql: Sql): Hono {
  const routes = new Hono();
  routes.onError((error, c) => errorResponse(c, error));
  const principalOf = (c: Context) =>
    auth.authenticate(c.req.raw, auth.clientAddress(c.req.raw, peerAddress(c)));

  routes.post('/auth/token', async (c) => {
    // Only a password is exchanged: a token for a token would let a stolen one renew itself for ever.
    if (!/^basic /i.test((c.req.header('authorization') ?? '').trim())) {
      throw unauthorized('POST /auth/token takes HTTP Basic credentials (user id and password)', true);
    }
    const principal = await principalOf(c);
    if (principal.kind !== 'user') throw unauthorized('POST /auth/token is for users', true);
    return c.json(await auth.issueToken(principal.userId));
  });

  routes.post(
    '/admin/rpc/issue_token',
    bodyLimit({
      maxSize: 4096,
      onError: (c) =>
        errorResponse(c, new ApiError('MCTOO', 'issue_token takes a body of at most 4096 bytes')),
    }),
    async (c) => {
      const principal = await principalOf(c);
      if (principal.kind !== 'admin') throw new ApiError('MCADM', 'this endpoint needs admin credentials');
      const { userId, ttlSeconds } = await readIssueTokenArguments(c);
      // A token for a user who does not exist would only fail later, on every call: refuse now (MCUNU).
      await sql`select 1 from chat.me(${userId})`;
      return c.json(await auth.issueToken(userId, ttlSeconds));
    },
  );

  return routes;
}
