/**
 * Passwords (HTTP Basic, legacy MD5 upgraded to bcrypt, failures slowed down to 429) and the token
 * routes: POST /auth/token and POST /admin/rpc/issue_token, through Hono's app.request().
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Hono } from 'hono';
import { SignJWT } from 'jose';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Auth, createAuth, type Principal } from '../../server/auth.ts';
import { authRoutes } from '../../server/auth-routes.ts';
import { loadConfig } from '../../server/config.ts';
import { ApiError, errorResponse } from '../../server/errors.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { identity } from '../helpers/principal.ts';

const SECRET = 'site-secret-for-tests-0123456789abcdef';
const ADMIN_TOKEN = 'admin-token-for-tests-0123456789abcdef';

let db: TestDatabase;
let dataDir: string;
const auths: Auth[] = [];

async function makeAuth(settings: Record<string, string> = {}): Promise<Auth> {
  const config = loadConfig({
    MICROCHATTER_DATA_DIR: dataDir,
    MICROCHATTER_JWT_SECRET: SECRET,
    MICROCHATTER_ADMIN_TOKEN: ADMIN_TOKEN,
    MICROCHATTER_JWT_ADMIN_CLAIM: 'microchatter_admin',
    ...settings,
  });
  // Failures are counted in the database, shared by every Auth: each test starts with none.
  await db.sql`delete from chat_private.rate_limits`;
  const auth = await createAuth(config, db.sql, { log: () => {} });
  auths.push(auth);
  return auth;
}

/** The auth routes, plus one protected route standing in for "every endpoint". */
function appFor(auth: Auth): Hono {
  const app = new Hono();
  app.onError((error, c) => errorResponse(c, error));
  app.route('/', authRoutes(auth, db.sql));
  app.get('/whoami', async (c) => c.json(identity(await auth.authenticate(c.req.raw, 'local'))));
  return app;
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

async function login(auth: Auth, authorization: string, address = '1.2.3.4'): Promise<Principal> {
  return identity(
    await auth.authenticate(
      new Request('http://microchatter.test/', { headers: { authorization } }),
      address,
    ),
  );
}

/** The ApiError code a login ends with, or 'ok'. */
async function outcome(auth: Auth, authorization: string, address = '1.2.3.4'): Promise<string> {
  try {
    await login(auth, authorization, address);
    return 'ok';
  } catch (error) {
    if (error instanceof ApiError) return error.code;
    throw error;
  }
}

async function errorCode(response: Response): Promise<string> {
  const body = (await response.json()) as { error?: { code?: string } };
  return body.error?.code ?? '(none)';
}

async function storedHash(userId: string): Promise<string | null> {
  const [row] = await db.sql<{ password_hash: string | null }[]>`
    select password_hash from chat_private.users where user_id = ${userId}`;
  return row?.password_hash ?? null;
}

test.before(async () => {
  db = await freshDatabase({ max: 8 });
  dataDir = await mkdtemp(path.join(tmpdir(), 'microchatter-auth-'));
  await db.sql`select chat_admin.create_user('alice', 'Alice', password => 'correct horse')`;
  await db.sql`select chat_admin.create_user('bob', 'Bob', password => 'battery staple')`;
  await db.sql`select chat_admin.create_user('nopass', 'No Password')`;
});

test.after(async () => {
  for (const auth of auths) auth.close();
  await db.drop();
  await rm(dataDir, { recursive: true, force: true });
});

test('Basic with the right password authenticates; wrong, unknown or malformed is a 401 with a Basic challenge', async () => {
  const auth = await makeAuth({ MICROCHATTER_LOGIN_MAX_FAILURES: '100' });
  assert.equal(await login(auth, basic('alice', 'correct horse')), { kind: 'user', userId: 'alice' });
  assert.equal(
    await login(auth, basic('alice', 'correct horse:with colon')).catch(() => 'refused'),
    'refused',
  );
  for (const value of [
    basic('alice', 'wrong'),
    basic('alice', ''),
    basic('Alice', 'correct horse'),
    basic('nobody', 'correct horse'),
    basic('nopass', ''),
    basic('nopass', 'anything'),
    basic('', 'correct horse'),
    basic('x'.repeat(201), 'pw'),
    basic('alice', 'nul\u0000byte'),
    'Basic %%%',
    'Basic YWxpY2U=',
    'Basic YWxpY2U6Y29ycmVjdCBob3JzZQ=!',
    `Basic ${Buffer.from([0x61, 0x3a, 0xff, 0xfe]).toString('base64')}`,
  ]) {
    try {
      await login(auth, value);
      assert.unreachable(`accepted ${value}`);
    } catch (error) {
      assert.instance(error, ApiError, String(error));
      assert.is((error as ApiError).code, 'MCAUT', value);
      assert.match((error as ApiError).headers['WWW-Authenticate'] ?? '', /^Basic /);
    }
  }
});

test('a legacy MD5 hash logs in once and is replaced by bcrypt; a wrong password leaves it alone', async () => {
  const auth = await makeAuth();
  const md5 = createHash('md5').update('old secret').digest('hex');
  await db.sql`select chat_admin.import_users(${db.sql.json([{ user_id: 'legacy', password_hash: md5 }])})`;
  assert.is(await outcome(auth, basic('legacy', 'wrong')), 'MCAUT');
  assert.is(await storedHash('legacy'), md5);
  assert.equal(await login(auth, basic('legacy', 'old secret')), { kind: 'user', userId: 'legacy' });
  assert.match((await storedHash('legacy')) ?? '', /^\$2[aby]\$/);
  assert.equal(await login(auth, basic('legacy', 'old secret')), { kind: 'user', userId: 'legacy' });
  assert.is(await outcome(auth, basic('legacy', md5)), 'MCAUT', 'the hash itself is not a password');
});

test('repeated failures for one user are slowed down: 429 with Retry-After, even for the right password', async () => {
  const auth = await makeAuth({
    MICROCHATTER_LOGIN_MAX_FAILURES: '3',
    MICROCHATTER_LOGIN_FAILURE_WINDOW: '60',
  });
  // From a different address each time: the user's own counter trips.
  for (let i = 0; i < 3; i++) assert.is(await outcome(auth, basic('bob', 'guess'), `10.0.0.${i}`), 'MCAUT');
  try {
    await login(auth, basic('bob', 'battery staple'), '10.0.1.1');
    assert.unreachable('the right password got through during the slow-down');
  } catch (error) {
    assert.is((error as ApiError).code, 'MCRAT');
    const retryAfter = Number((error as ApiError).headers['Retry-After']);
    assert.ok(retryAfter >= 1 && retryAfter <= 20, `Retry-After ${retryAfter}`);
  }
  // Other users are not affected.
  assert.equal(await login(auth, basic('alice', 'correct horse'), '10.0.1.1'), {
    kind: 'user',
    userId: 'alice',
  });
});

test('repeated failures from one address are slowed down across user ids', async () => {
  const auth = await makeAuth({
    MICROCHATTER_LOGIN_MAX_FAILURES: '3',
    MICROCHATTER_LOGIN_FAILURE_WINDOW: '60',
  });
  for (const user of ['u1', 'u2', 'u3'])
    assert.is(await outcome(auth, basic(user, 'guess'), '6.6.6.6'), 'MCAUT');
  assert.is(await outcome(auth, basic('u4', 'guess'), '6.6.6.6'), 'MCRAT');
  assert.is(await outcome(auth, 'Basic %%%', '6.6.6.6'), 'MCRAT');
  assert.is(await outcome(auth, basic('alice', 'correct horse'), '6.6.6.6'), 'MCRAT');
  assert.is(await outcome(auth, basic('alice', 'correct horse'), '7.7.7.7'), 'ok');
});

test('a burst of parallel guesses is counted in full', async () => {
  const auth = await makeAuth({
    MICROCHATTER_LOGIN_MAX_FAILURES: '3',
    MICROCHATTER_LOGIN_FAILURE_WINDOW: '60',
  });
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => outcome(auth, basic('bob', `guess ${i}`), `10.1.0.${i}`)),
  );
  assert.is(results.filter((result) => result === 'MCAUT').length, 3);
  assert.is(results.filter((result) => result === 'MCRAT').length, 17);
});

test('a successful login clears the user counter, so an occasional typo never locks anyone out', async () => {
  const auth = await makeAuth({
    MICROCHATTER_LOGIN_MAX_FAILURES: '3',
    MICROCHATTER_LOGIN_FAILURE_WINDOW: '60',
  });
  for (let round = 0; round < 4; round++) {
    assert.is(await outcome(auth, basic('alice', 'typo'), `10.2.0.${round}`), 'MCAUT');
    assert.is(await outcome(auth, basic('alice', 'typo'), `10.2.0.${round}`), 'MCAUT');
    assert.is(await outcome(auth, basic('alice', 'correct horse'), `10.2.0.${round}`), 'ok');
  }
});

test('behind a trusted proxy, failures count against the right-most X-Forwarded-For address', async () => {
  const direct = await makeAuth();
  const proxied = await makeAuth({ MICROCHATTER_TRUST_PROXY: 'true' });
  const forwarded = new Request('http://microchatter.test/', {
    headers: { 'x-forwarded-for': '203.0.113.9, 198.51.100.7' },
  });
  assert.is(direct.clientAddress(forwarded, '127.0.0.1'), '127.0.0.1');
  assert.is(proxied.clientAddress(forwarded, '127.0.0.1'), '198.51.100.7');
  assert.is(proxied.clientAddress(new Request('http://microchatter.test/'), '127.0.0.1'), '127.0.0.1');

  const limited = await makeAuth({
    MICROCHATTER_TRUST_PROXY: 'true',
    MICROCHATTER_LOGIN_MAX_FAILURES: '2',
    MICROCHATTER_LOGIN_FAILURE_WINDOW: '60',
  });
  const app = appFor(limited);
  const post = (user: string, password: string, address: string) =>
    app.request('/auth/token', {
      method: 'POST',
      headers: { authorization: basic(user, password), 'x-forwarded-for': address },
    });
  assert.is((await post('u1', 'x', '192.0.2.1')).status, 401);
  assert.is((await post('u2', 'x', '192.0.2.1')).status, 401);
  assert.is((await post('u3', 'x', '192.0.2.1')).status, 429);
  // Another client behind the same proxy is not locked out by the first one's failures.
  assert.is((await post('alice', 'correct horse', '192.0.2.2')).status, 200);
});

test('POST /auth/token exchanges Basic credentials for a token that authenticates', async () => {
  const auth = await makeAuth();
  const app = appFor(auth);
  const response = await app.request('/auth/token', {
    method: 'POST',
    headers: { authorization: basic('alice', 'correct horse') },
  });
  assert.is(response.status, 200);
  const body = (await response.json()) as { token: string; expires_at: string };
  assert.type(body.token, 'string');
  const lifetime = Date.parse(body.expires_at) - Date.now();
  assert.ok(lifetime > 3_500_000 && lifetime <= 3_600_000, `expires in ${lifetime} ms (TTL 3600 s)`);

  assert.equal(await login(auth, `Bearer ${body.token}`), { kind: 'user', userId: 'alice' });
  const whoami = await app.request('/whoami', { headers: { authorization: `Bearer ${body.token}` } });
  assert.is(whoami.status, 200);
  assert.equal(await whoami.json(), { kind: 'user', userId: 'alice' });
  // Basic is accepted on other endpoints too.
  const viaBasic = await app.request('/whoami', {
    headers: { authorization: basic('bob', 'battery staple') },
  });
  assert.equal(await viaBasic.json(), { kind: 'user', userId: 'bob' });
});

test('POST /auth/token refuses everything but good Basic credentials with 401, then 429 with Retry-After', async () => {
  const auth = await makeAuth({
    MICROCHATTER_LOGIN_MAX_FAILURES: '2',
    MICROCHATTER_LOGIN_FAILURE_WINDOW: '60',
  });
  const app = appFor(auth);
  const post = (authorization?: string) =>
    app.request('/auth/token', { method: 'POST', headers: authorization ? { authorization } : {} });

  const missing = await post();
  assert.is(missing.status, 401);
  assert.match(missing.headers.get('www-authenticate') ?? '', /^Basic /);
  assert.is(await errorCode(missing), 'MCAUT');
  const { token } = await auth.issueToken('alice');
  assert.is((await post(`Bearer ${token}`)).status, 401, 'a token cannot renew itself');
  assert.is((await post(`Bearer ${ADMIN_TOKEN}`)).status, 401);
  assert.is((await post(basic('alice', 'nope'))).status, 401);
  assert.is((await post(basic('alice', 'nope'))).status, 401);
  const slowed = await post(basic('alice', 'correct horse'));
  assert.is(slowed.status, 429);
  assert.is(await errorCode(slowed), 'MCRAT');
  assert.ok(Number(slowed.headers.get('retry-after')) >= 1);
});

test('POST /admin/rpc/issue_token: admin credentials get a token (200), user credentials 403, none 401', async () => {
  const auth = await makeAuth();
  const app = appFor(auth);
  const issue = (authorization: string | undefined, body: unknown, type = 'application/json') =>
    app.request('/admin/rpc/issue_token', {
      method: 'POST',
      headers: { 'content-type': type, ...(authorization ? { authorization } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  const issued = await issue(`Bearer ${ADMIN_TOKEN}`, { user_id: 'bob', ttl_seconds: 600 });
  assert.is(issued.status, 200);
  const { token, expires_at } = (await issued.json()) as { token: string; expires_at: string };
  assert.ok(Math.abs(Date.parse(expires_at) - Date.now() - 600_000) < 5_000);
  assert.equal(await login(auth, `Bearer ${token}`), { kind: 'user', userId: 'bob' });

  const asUser = await issue(`Bearer ${token}`, { user_id: 'alice' });
  assert.is(asUser.status, 403);
  assert.is(await errorCode(asUser), 'MCADM');
  const asBasicUser = await issue(basic('alice', 'correct horse'), { user_id: 'alice' });
  assert.is(asBasicUser.status, 403);
  const anonymous = await issue(undefined, { user_id: 'alice' });
  assert.is(anonymous.status, 401);
  assert.is(await errorCode(anonymous), 'MCAUT');

  // An admin by claim in a site token may do the same.
  const adminJwt = await new SignJWT({ microchatter_admin: true })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET));
  assert.is((await issue(`Bearer ${adminJwt}`, { user_id: 'alice' })).status, 200);
});

test('POST /admin/rpc/issue_token: unknown user 404, bad arguments 400, wrong content type 415', async () => {
  const auth = await makeAuth();
  const app = appFor(auth);
  const issue = async (body: string, type = 'application/json') => {
    const response = await app.request('/admin/rpc/issue_token', {
      method: 'POST',
      headers: { 'content-type': type, authorization: `Bearer ${ADMIN_TOKEN}` },
      body,
    });
    return `${response.status} ${await errorCode(response)}`;
  };
  assert.is(await issue('{"user_id": "nobody"}'), '404 MCUNU');
  assert.is(await issue(''), '400 MCARG');
  assert.is(await issue('{}'), '400 MCARG');
  assert.is(await issue('{"user_id": 42}'), '400 MCARG');
  assert.is(await issue(`{"user_id": "${'x'.repeat(201)}"}`), '400 MCARG');
  assert.is(await issue('{"user_id": "bob", "ttl_seconds": "600"}'), '400 MCARG');
  assert.is(await issue('{"user_id": "bob", "ttl_seconds": 0}'), '400 MCARG');
  assert.is(await issue('{"user_id": "bob", "ttl_seconds": 1e300}'), '400 MCARG');
  assert.is(await issue('{"user_id": "bob", "actor": "alice"}'), '400 MCARG');
  assert.is(await issue('["bob"]'), '400 MCJSN');
  assert.is(await issue('{"user_id": '), '400 MCJSN');
  assert.is(await issue('user_id=bob', 'application/x-www-form-urlencoded'), '415 MCTYP');
  assert.is(await issue(`{"user_id": "bob", "pad": "${'x'.repeat(5000)}"}`), '413 MCTOO');
});

test.run();
