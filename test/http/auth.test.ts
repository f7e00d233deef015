/**
 * Bearer authentication: site JWTs (HS256 secret and RS256 public key), Microchatter's own tokens, the
 * admin token, and the forged or broken tokens that must all end as 401, never 500.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Auth, createAuth, type Principal } from '../../server/auth.ts';
import { loadConfig } from '../../server/config.ts';
import { ApiError } from '../../server/errors.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { identity } from '../helpers/principal.ts';

const SECRET = 'site-secret-for-tests-0123456789abcdef';
const ADMIN_TOKEN = 'admin-token-for-tests-0123456789abcdef';
const ISSUER = 'https://site.example';
const AUDIENCE = 'microchatter';
const now = () => Math.floor(Date.now() / 1000);

let db: TestDatabase;
let dataDir: string;
let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
let publicPem: string;
const auths: Auth[] = [];

async function makeAuth(settings: Record<string, string> = {}): Promise<Auth> {
  const config = loadConfig({
    MICROCHATTER_DATA_DIR: dataDir,
    MICROCHATTER_JWT_SECRET: SECRET,
    MICROCHATTER_ADMIN_TOKEN: ADMIN_TOKEN,
    MICROCHATTER_JWT_PUBLIC_KEY: publicPem,
    MICROCHATTER_JWT_ALGORITHM: 'RS256',
    MICROCHATTER_JWT_ISSUER: ISSUER,
    MICROCHATTER_JWT_AUDIENCE: AUDIENCE,
    MICROCHATTER_JWT_ADMIN_CLAIM: 'microchatter_admin',
    ...settings,
  });
  const auth = await createAuth(config, db.sql, { log: () => {} });
  auths.push(auth);
  return auth;
}

/** A site token signed with the RS256 private key, valid unless the claims say otherwise. */
function rs256(claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, exp: now() + 300, ...claims })
    .setProtectedHeader({ alg: 'RS256', ...header })
    .sign(rsa.privateKey);
}

function hs256(claims: JWTPayload, secret = SECRET): Promise<string> {
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, exp: now() + 300, ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(secret));
}

function request(authorization?: string): Request {
  const headers = new Headers();
  if (authorization !== undefined) headers.set('authorization', authorization);
  return new Request('http://microchatter.test/rpc/me', { method: 'POST', headers });
}

async function principal(auth: Auth, authorization: string): Promise<Principal> {
  return identity(await auth.authenticate(request(authorization), '1.2.3.4'));
}

/** Asserts a 401 ApiError with a WWW-Authenticate challenge. */
async function rejected(auth: Auth, authorization: string | undefined, what: string): Promise<void> {
  try {
    await auth.authenticate(request(authorization), '1.2.3.4');
  } catch (error) {
    assert.instance(error, ApiError, `${what}: expected an ApiError, got ${String(error)}`);
    const apiError = error as ApiError;
    assert.is(apiError.code, 'MCAUT', `${what}: ${apiError.message}`);
    assert.ok(apiError.headers['WWW-Authenticate'], `${what}: no WWW-Authenticate header`);
    return;
  }
  assert.unreachable(`${what}: was accepted`);
}

async function userCount(userId: string): Promise<number> {
  const [row] = await db.sql<{ count: number }[]>`
    select count(*)::int as count from chat_private.users where user_id = ${userId}`;
  return row?.count ?? -1;
}

test.before(async () => {
  db = await freshDatabase({ max: 8 });
  dataDir = await mkdtemp(path.join(tmpdir(), 'microchatter-auth-'));
  rsa = await generateKeyPair('RS256', { extractable: true });
  publicPem = await exportSPKI(rsa.publicKey);
});

test.after(async () => {
  for (const auth of auths) auth.close();
  await db.drop();
  await rm(dataDir, { recursive: true, force: true });
});

test('an RS256 site token authenticates its sub and creates the user with the name claim', async () => {
  const auth = await makeAuth();
  assert.equal(await principal(auth, `Bearer ${await rs256({ sub: 'u-rs', name: 'Ruth' })}`), {
    kind: 'user',
    userId: 'u-rs',
  });
  const [user] = await db.sql`select display_name from chat_private.users where user_id = 'u-rs'`;
  assert.is(user?.display_name, 'Ruth');
});

test('an HS256 site token signed with MICROCHATTER_JWT_SECRET authenticates', async () => {
  const auth = await makeAuth();
  assert.equal(await principal(auth, `Bearer ${await hs256({ sub: 'u-hs' })}`), {
    kind: 'user',
    userId: 'u-hs',
  });
  assert.is(await userCount('u-hs'), 1);
});

test('the scheme name is case-insensitive', async () => {
  const auth = await makeAuth();
  assert.equal(await principal(auth, `bearer ${await hs256({ sub: 'u-case' })}`), {
    kind: 'user',
    userId: 'u-case',
  });
});

test('a number sub is taken as its decimal text; a configured user and name claim are read', async () => {
  const auth = await makeAuth({ MICROCHATTER_JWT_USER_CLAIM: 'uid', MICROCHATTER_JWT_NAME_CLAIM: 'nick' });
  assert.equal(await principal(auth, `Bearer ${await rs256({ uid: 4242, nick: 'Forty' })}`), {
    kind: 'user',
    userId: '4242',
  });
  const [user] = await db.sql`select display_name from chat_private.users where user_id = '4242'`;
  assert.is(user?.display_name, 'Forty');
  await rejected(auth, `Bearer ${await rs256({ sub: 'has-sub-but-no-uid' })}`, 'no uid claim');
});

test('a display name the SQL API would refuse is ignored, the login still works', async () => {
  const auth = await makeAuth();
  const token = await rs256({ sub: 'u-badname', name: 'x'.repeat(300) });
  assert.equal(await principal(auth, `Bearer ${token}`), { kind: 'user', userId: 'u-badname' });
  const [user] = await db.sql`select display_name from chat_private.users where user_id = 'u-badname'`;
  assert.is(user?.display_name, null);
});

test('a user id claim that is not a valid user id is a 401', async () => {
  const auth = await makeAuth();
  for (const sub of ['', 'x'.repeat(201), 'tab\there', 1.5, true, { id: 1 }, ['a'], null]) {
    await rejected(auth, `Bearer ${await rs256({ sub: sub as string })}`, `sub ${JSON.stringify(sub)}`);
  }
  await rejected(auth, `Bearer ${await rs256({})}`, 'no sub at all');
});

test('with auto-create off an unknown user is a 401 and a known one passes', async () => {
  const auth = await makeAuth({ MICROCHATTER_AUTO_CREATE_USERS: 'false' });
  await rejected(auth, `Bearer ${await rs256({ sub: 'u-nobody' })}`, 'unknown user');
  assert.is(await userCount('u-nobody'), 0);
  await db.sql`select chat_admin.create_user('u-known', 'Known')`;
  assert.equal(await principal(auth, `Bearer ${await rs256({ sub: 'u-known' })}`), {
    kind: 'user',
    userId: 'u-known',
  });
});

test('100 concurrent first requests of a new user create exactly one row', async () => {
  const auth = await makeAuth();
  const token = await rs256({ sub: 'u-crowd', name: 'Crowd' });
  const results = await Promise.all(Array.from({ length: 100 }, () => principal(auth, `Bearer ${token}`)));
  assert.ok(results.every((result) => result.kind === 'user' && result.userId === 'u-crowd'));
  assert.is(await userCount('u-crowd'), 1);
});

test('100 first requests spread over 10 server processes (Auth instances) create exactly one row', async () => {
  const processes = await Promise.all(Array.from({ length: 10 }, () => makeAuth()));
  const token = await rs256({ sub: 'u-cluster' });
  await Promise.all(
    Array.from({ length: 100 }, (_, i) => principal(processes[i % 10] as Auth, `Bearer ${token}`)),
  );
  assert.is(await userCount('u-cluster'), 1);
});

test('MICROCHATTER_ADMIN_TOKEN as Bearer is the admin; a near miss is a 401', async () => {
  const auth = await makeAuth();
  assert.equal(await principal(auth, `Bearer ${ADMIN_TOKEN}`), { kind: 'admin' });
  await rejected(auth, `Bearer ${ADMIN_TOKEN}x`, 'admin token plus one character');
  await rejected(auth, `Bearer ${ADMIN_TOKEN.slice(0, -1)}`, 'admin token minus one character');
  await rejected(
    auth,
    `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`,
    'admin token as Basic',
  );
});

test('a site token with the admin claim true is the admin; other values are not', async () => {
  const auth = await makeAuth();
  assert.equal(await principal(auth, `Bearer ${await rs256({ microchatter_admin: true })}`), {
    kind: 'admin',
  });
  assert.equal(
    await principal(auth, `Bearer ${await rs256({ sub: 'u-notadmin', microchatter_admin: 'true' })}`),
    {
      kind: 'user',
      userId: 'u-notadmin',
    },
  );
});

test("Microchatter's own token authenticates, and never as admin", async () => {
  const auth = await makeAuth();
  await db.sql`select chat_admin.create_user('u-own', 'Own')`;
  const { token, expires_at } = await auth.issueToken('u-own', 120);
  assert.ok(Math.abs(Date.parse(expires_at) - (Date.now() + 120_000)) < 5_000);
  // The form of every timestamp the API sends (PostgreSQL's, whole seconds here).
  assert.match(expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
  assert.equal(await principal(auth, `Bearer ${token}`), { kind: 'user', userId: 'u-own' });
  // Our issuer is not the site's: the site's iss/aud rules do not apply to it, and vice versa.
  const forgedAdmin = await new SignJWT({ microchatter_admin: true, sub: 'u-own' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('microchatter')
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET));
  assert.equal(await principal(auth, `Bearer ${forgedAdmin}`), { kind: 'user', userId: 'u-own' });
});

test('an own token of a deleted (or never created) user is a 401, and does not recreate the user', async () => {
  const auth = await makeAuth();
  const { token } = await auth.issueToken('u-ghost');
  await rejected(auth, `Bearer ${token}`, 'own token of an unknown user');
  assert.is(await userCount('u-ghost'), 0);
});

test('issueToken refuses bad user ids and lifetimes with MCARG', async () => {
  const auth = await makeAuth();
  for (const [userId, ttl] of [
    ['', 60],
    ['x'.repeat(201), 60],
    ['ok', 0],
    ['ok', 1.5],
    ['ok', 99_999_999],
  ] as const) {
    try {
      await auth.issueToken(userId, ttl);
      assert.unreachable(`issued for ${userId.length} chars, ttl ${ttl}`);
    } catch (error) {
      assert.is((error as ApiError).code, 'MCARG');
    }
  }
});

test('attack: alg none (unsigned) tokens are 401', async () => {
  const auth = await makeAuth();
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = { sub: 'u-none', iss: ISSUER, aud: AUDIENCE, exp: now() + 300 };
  for (const alg of ['none', 'None', 'NONE']) {
    await rejected(auth, `Bearer ${encode({ alg })}.${encode(claims)}.`, `alg ${alg}`);
  }
  await rejected(
    auth,
    `Bearer ${encode({ alg: 'none' })}.${encode({ ...claims, iss: 'microchatter' })}.`,
    'none+own',
  );
  assert.is(await userCount('u-none'), 0);
});

test('attack: HS256 signed with the RS256 public key PEM as its secret is 401', async () => {
  const auth = await makeAuth();
  await rejected(auth, `Bearer ${await hs256({ sub: 'u-confused' }, publicPem)}`, 'PEM as HMAC secret');
  const der = await hs256({ sub: 'u-confused' }, publicPem.replace(/-----[^-]+-----|\s/g, ''));
  await rejected(auth, `Bearer ${der}`, 'base64 key body as HMAC secret');
  assert.is(await userCount('u-confused'), 0);
});

test('attack: algorithms other than the pinned ones are 401', async () => {
  const auth = await makeAuth();
  const es = await generateKeyPair('ES256');
  const es256 = await new SignJWT({ sub: 'u-es', iss: ISSUER, aud: AUDIENCE, exp: now() + 300 })
    .setProtectedHeader({ alg: 'ES256' })
    .sign(es.privateKey);
  await rejected(auth, `Bearer ${es256}`, 'ES256 when RS256 is configured');
  const hs512 = await new SignJWT({ sub: 'u-es', iss: ISSUER, aud: AUDIENCE, exp: now() + 300 })
    .setProtectedHeader({ alg: 'HS512' })
    .sign(new TextEncoder().encode(SECRET.repeat(2)));
  await rejected(auth, `Bearer ${hs512}`, 'HS512 with the secret');
  const ps256 = await new SignJWT({ sub: 'u-es', iss: ISSUER, aud: AUDIENCE, exp: now() + 300 })
    .setProtectedHeader({ alg: 'PS256' })
    .sign((await generateKeyPair('PS256')).privateKey);
  await rejected(auth, `Bearer ${ps256}`, 'PS256, another RSA algorithm');
});

test('attack: expired, not yet valid, missing exp are 401; the clock tolerance is honoured', async () => {
  const auth = await makeAuth();
  await rejected(auth, `Bearer ${await rs256({ sub: 'u-time', exp: now() - 120 })}`, 'expired');
  await rejected(auth, `Bearer ${await rs256({ sub: 'u-time', nbf: now() + 120 })}`, 'nbf in the future');
  const noExp = await new SignJWT({ sub: 'u-time', iss: ISSUER, aud: AUDIENCE })
    .setProtectedHeader({ alg: 'RS256' })
    .sign(rsa.privateKey);
  await rejected(auth, `Bearer ${noExp}`, 'missing exp');
  const hsNoExp = await new SignJWT({ sub: 'u-time' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('microchatter')
    .sign(new TextEncoder().encode(SECRET));
  await rejected(auth, `Bearer ${hsNoExp}`, 'own token without exp');
  assert.is(await userCount('u-time'), 0);
  // Within the default 30 s of tolerance: a site clock slightly ahead or behind is forgiven.
  assert.equal(await principal(auth, `Bearer ${await rs256({ sub: 'u-skew', exp: now() - 10 })}`), {
    kind: 'user',
    userId: 'u-skew',
  });
  const strict = await makeAuth({ MICROCHATTER_JWT_CLOCK_TOLERANCE: '0' });
  await rejected(strict, `Bearer ${await rs256({ sub: 'u-skew', exp: now() - 10 })}`, 'no tolerance');
});

test('attack: wrong or missing iss / aud are 401', async () => {
  const auth = await makeAuth();
  await rejected(auth, `Bearer ${await rs256({ sub: 'u-iss', iss: 'https://evil.example' })}`, 'wrong iss');
  await rejected(auth, `Bearer ${await rs256({ sub: 'u-iss', iss: undefined })}`, 'missing iss');
  await rejected(auth, `Bearer ${await rs256({ sub: 'u-iss', aud: 'another-service' })}`, 'wrong aud');
  await rejected(auth, `Bearer ${await rs256({ sub: 'u-iss', aud: undefined })}`, 'missing aud');
  await rejected(
    auth,
    `Bearer ${await hs256({ sub: 'u-iss', iss: 'https://evil.example' })}`,
    'HS256 wrong iss',
  );
  assert.is(await userCount('u-iss'), 0);
});

test('attack: tampered signature, payload or header are 401', async () => {
  const auth = await makeAuth();
  const token = await rs256({ sub: 'u-tamper' });
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
  await rejected(auth, `Bearer ${header}.${payload}.${flipped}`, 'flipped signature byte');
  await rejected(auth, `Bearer ${header}.${payload}.`, 'signature removed');
  const otherPayload = Buffer.from(
    JSON.stringify({ sub: 'u-victim', iss: ISSUER, aud: AUDIENCE, exp: now() + 300 }),
  ).toString('base64url');
  await rejected(auth, `Bearer ${header}.${otherPayload}.${signature}`, 'payload swapped');
  const hsHeader = Buffer.from(JSON.stringify({ alg: 'HS256' })).toString('base64url');
  await rejected(auth, `Bearer ${hsHeader}.${payload}.${signature}`, 'header swapped to HS256');
  const own = (await auth.issueToken('u-tamper')).token.split('.') as [string, string, string];
  const ownPayload = Buffer.from(
    JSON.stringify({ sub: 'u-victim', iss: 'microchatter', exp: now() + 300 }),
  ).toString('base64url');
  await rejected(auth, `Bearer ${own[0]}.${ownPayload}.${own[2]}`, 'own token with another sub');
  assert.is(await userCount('u-victim'), 0);
});

test('attack: garbage Authorization headers are 401, never another error', async () => {
  // Malformed Basic counts as a failed login: allow enough of them that none of these turns into a 429.
  const auth = await makeAuth({ MICROCHATTER_LOGIN_MAX_FAILURES: '100' });
  const garbage = [
    undefined,
    '',
    'Bearer',
    'Bearer ',
    'Bearer  ',
    'Bearer a.b.c',
    'Bearer ...',
    'Bearer ..',
    'Bearer a.b',
    'Bearer eyJhbGciOiJSUzI1NiJ9.e30.',
    'Bearer eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln',
    'Bearer bm90IGpzb24.e30.c2ln',
    `Bearer ${Buffer.from('{"alg":"RS256","crit":["x"],"x":1}').toString('base64url')}.e30.c2ln`,
    `Bearer ${Buffer.from('[]').toString('base64url')}.${Buffer.from('[]').toString('base64url')}.c2ln`,
    `Bearer ${'a'.repeat(10_000)}`,
    `Bearer ${'eyJ'.repeat(3000)}.e30.c2ln`,
    'Bearer token with spaces',
    'Token abc',
    'Digest username="x"',
    'Basic',
    'Basic !!!!',
    'Basic ====',
    'Basic Og==',
    'Basic dXNlcg==',
    'Basic \u00ff\u00fe',
    'Bearer \u00e9\u00e8.\u00e0.\u00e7',
    'NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==',
    'Bearer null',
    'Bearer undefined',
    'Bearer {}',
  ];
  for (const value of garbage)
    await rejected(auth, value, `Authorization: ${JSON.stringify(value)?.slice(0, 60)}`);
});

test('a user principal carries when its token expires, for streams to close then', async () => {
  const auth = await makeAuth();
  const exp = now() + 120;
  const full = await auth.authenticate(request(`Bearer ${await hs256({ sub: 'u-exp', exp })}`), '1.2.3.4');
  assert.equal(full, { kind: 'user', userId: 'u-exp', expiresAt: exp });
});

test.run();
