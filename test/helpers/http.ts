/**
 * The real HTTP app over a fresh test database, with real JWT verification: tokens are signed here
 * with the configured secret, exactly as a site's backend would sign them.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Hono } from 'hono';
import { SignJWT } from 'jose';
import { type AppOptions, createApp } from '../../server/app.ts';
import { type Auth, createAuth } from '../../server/auth.ts';
import { loadCatalog } from '../../server/catalog.ts';
import { loadConfig } from '../../server/config.ts';
import { freshDatabase, type TestDatabase } from './db.ts';

export const JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256!';
export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface TestApp {
  db: TestDatabase;
  app: Hono;
  auth: Auth;
  /** What `app` was built from, for tests that build a variant. */
  options: AppOptions;
  /** A site-signed token for the user (created on first use). */
  tokenFor(userId: string, claims?: Record<string, unknown>): Promise<string>;
  /** Calls an endpoint as a user (or admin) and returns status, JSON body (if any) and headers. */
  call(
    userId: string | 'admin' | null,
    pathname: string,
    body?: unknown,
    init?: RequestInit,
  ): Promise<{ status: number; body: unknown; headers: Headers }>;
  close(): Promise<void>;
}

export async function testApp(settings: Record<string, string> = {}): Promise<TestApp> {
  const db = await freshDatabase({ max: 10 });
  const dataDir = await mkdtemp(path.join(tmpdir(), 'mc-http-'));
  const config = loadConfig({
    DATABASE_URL: db.url,
    MICROCHATTER_DATA_DIR: dataDir,
    MICROCHATTER_JWT_SECRET: JWT_SECRET,
    MICROCHATTER_ADMIN_TOKEN: ADMIN_TOKEN,
    MICROCHATTER_SEND_RATE_PER_MINUTE: '0',
    ...settings,
  });
  const auth = await createAuth(config, db.sql);
  const catalog = await loadCatalog(db.sql);
  const options: AppOptions = { sql: db.sql, catalog, auth, bodyLimit: config.bodyLimit };
  const app = createApp(options);

  const tokenFor = (userId: string, claims: Record<string, unknown> = {}) =>
    new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(JWT_SECRET));

  const call: TestApp['call'] = async (userId, pathname, body, init = {}) => {
    const headers = new Headers(init.headers);
    if (userId === 'admin') headers.set('authorization', `Bearer ${ADMIN_TOKEN}`);
    else if (userId !== null) headers.set('authorization', `Bearer ${await tokenFor(userId)}`);
    if (body !== undefined) headers.set('content-type', 'application/json');
    const response = await app.request(pathname, {
      method: body === undefined && !init.method ? 'GET' : 'POST',
      ...init,
      headers,
      body: body === undefined ? init.body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  };

  return {
    db,
    app,
    auth,
    options,
    tokenFor,
    call,
    async close() {
      auth.close();
      await db.drop();
    },
  };
}
