/**
 * GET /demo: a chat page built only on the SDK (demo/ holds its files; the SDK is bundled for the
 * browser from client/src at start), and POST /demo/token, the page's dev sign-in.
 *
 * DEMO ONLY. The sign-in mints a token for whatever user id it is given, so anyone who can reach it
 * can act as anyone. It exists only while MICROCHATTER_DEMO is on (by default only with the embedded
 * database); a real site gets its users' tokens from its own backend (POST /admin/rpc/issue_token).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Hono } from 'hono';
import { type Auth, validUserId } from './auth.ts';
import type { Sql } from './db.ts';
import { ApiError, errorResponse } from './errors.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The page's own files, by the name they are served under (/demo/<name>). */
const pageFiles = {
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
} as const;

/** The SDK as one browser module: the same source the npm package is built from. */
async function bundleSdk(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(root, 'client/src/index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    legalComments: 'none',
  });
  const [file] = result.outputFiles;
  if (!file) throw new Error('bundling the SDK for /demo produced nothing');
  return file.text;
}

// Only this origin's scripts and styles; images from blob: URLs (attachment previews) and the empty data: icon.
const headers = {
  'Cache-Control': 'no-cache',
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
};

export interface DemoOptions {
  auth: Auth;
  sql: Sql;
}

export async function demoRoutes({ auth, sql }: DemoOptions): Promise<Hono> {
  const files = new Map<string, { body: string; type: string }>();
  files.set('sdk.js', { body: await bundleSdk(), type: 'text/javascript; charset=utf-8' });
  for (const [name, type] of Object.entries(pageFiles)) {
    files.set(name, { body: await readFile(path.join(root, 'demo', name), 'utf8'), type });
  }
  const index = await readFile(path.join(root, 'demo/index.html'), 'utf8');

  const routes = new Hono();
  routes.onError((error, c) => errorResponse(c, error));
  routes.get('/demo', (c) => c.html(index, 200, headers));
  routes.get('/demo/', (c) => c.redirect('/demo'));
  routes.get('/demo/:file', (c) => {
    const file = files.get(c.req.param('file'));
    if (!file) throw new ApiError('MCNFD', `no file ${c.req.path}`);
    return c.body(file.body, 200, { ...headers, 'Content-Type': file.type });
  });

  // DEMO ONLY: a token for any user id, no password. Production never mounts this route.
  routes.post('/demo/token', async (c) => {
    let input: { user_id?: unknown; ttl_seconds?: unknown };
    try {
      input = (await c.req.json()) as typeof input;
    } catch {
      throw new ApiError('MCJSN', 'send {"user_id": "…"} as JSON');
    }
    const userId = typeof input.user_id === 'string' ? validUserId(input.user_id) : undefined;
    if (userId === undefined) {
      throw new ApiError(
        'MCARG',
        'user_id must be a string of 1 to 200 characters without control characters',
      );
    }
    const ttl = input.ttl_seconds;
    if (ttl !== undefined && typeof ttl !== 'number') {
      throw new ApiError('MCARG', 'ttl_seconds must be a whole number of seconds');
    }
    // The user exists from now on, so others can start a chat with them before their first call.
    await sql`select 1 from chat_admin.ensure_user(${userId})`;
    return c.json(await auth.issueToken(userId, ttl));
  });
  return routes;
}
