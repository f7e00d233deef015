/**
 * Site tokens checked against a JWKS URL: a key set served by a local node:http server, cached, fetched
 * again for an unknown `kid` (key rotation), and forged or unreachable keys ending as 401.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Auth, createAuth } from '../../server/auth.ts';
import { loadConfig } from '../../server/config.ts';
import { ApiError } from '../../server/errors.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

let db: TestDatabase;
let dataDir: string;
let server: Server;
let jwksUrl: string;
/** What the key server answers; tests change it to rotate keys. */
let served: JWK[] = [];
let fetches = 0;
const keys = new Map<string, KeyPair>();
const auths: Auth[] = [];

async function makeAuth(url = jwksUrl, log: (line: string) => void = () => {}): Promise<Auth> {
  const config = loadConfig({
    MICROCHATTER_DATA_DIR: dataDir,
    MICROCHATTER_JWT_SECRET: 'site-secret-for-tests-0123456789abcdef',
    MICROCHATTER_ADMIN_TOKEN: 'admin-token-for-tests-0123456789abcdef',
    MICROCHATTER_JWKS_URL: url,
    MICROCHATTER_JWT_ALGORITHM: 'ES256',
  });
  // No cooldown: the rotation test fetches again right after a first fetch.
  const auth = await createAuth(config, db.sql, { log, jwksCooldownMs: 0 });
  auths.push(auth);
  return auth;
}

async function keyPair(kid: string): Promise<KeyPair> {
  let pair = keys.get(kid);
  if (!pair) {
    pair = await generateKeyPair('ES256', { extractable: true });
    keys.set(kid, pair);
  }
  return pair;
}

async function publicJwk(kid: string): Promise<JWK> {
  return { ...(await exportJWK((await keyPair(kid)).publicKey)), kid, alg: 'ES256', use: 'sig' };
}

async function es256(kid: string, claims: JWTPayload = {}): Promise<string> {
  return new SignJWT({ sub: 'u-jwks', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setExpirationTime('5m')
    .sign((await keyPair(kid)).privateKey);
}

async function outcome(auth: Auth, token: string): Promise<string> {
  try {
    const principal = await auth.authenticate(
      new Request('http://microchatter.test/', { headers: { authorization: `Bearer ${token}` } }),
      '1.2.3.4',
    );
    return principal.kind === 'user' ? principal.userId : principal.kind;
  } catch (error) {
    if (error instanceof ApiError) return error.code;
    throw error;
  }
}

test.before(async () => {
  db = await freshDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'microchatter-jwks-'));
  server = createServer((_request, response) => {
    fetches++;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ keys: served }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
});

test.after(async () => {
  for (const auth of auths) auth.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await db.drop();
  await rm(dataDir, { recursive: true, force: true });
});

test('a token signed by a key in the JWKS authenticates; the key set is cached', async () => {
  served = [await publicJwk('k1')];
  fetches = 0;
  const auth = await makeAuth();
  assert.is(await outcome(auth, await es256('k1')), 'u-jwks');
  assert.is(await outcome(auth, await es256('k1', { sub: 'u-jwks-2' })), 'u-jwks-2');
  assert.is(fetches, 1);
});

test('an unknown kid makes the key set be fetched again: a rotated-in key works at once', async () => {
  served = [await publicJwk('k1')];
  fetches = 0;
  const auth = await makeAuth();
  assert.is(await outcome(auth, await es256('k1')), 'u-jwks');
  served = [await publicJwk('k1'), await publicJwk('k2')];
  assert.is(await outcome(auth, await es256('k2', { sub: 'u-rotated' })), 'u-rotated');
  assert.is(fetches, 2);
});

test('attack: an unknown kid (a key the site never published) is 401', async () => {
  served = [await publicJwk('k1')];
  const auth = await makeAuth();
  assert.is(await outcome(auth, await es256('evil', { sub: 'u-evil' })), 'MCAUT');
  const [row] = await db.sql`select count(*)::int as n from chat_private.users where user_id = 'u-evil'`;
  assert.is(row?.n, 0);
});

test('attack: a known kid on a token signed by another key, or without kid, is 401', async () => {
  served = [await publicJwk('k1')];
  const auth = await makeAuth();
  const forged = await new SignJWT({ sub: 'u-evil' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setExpirationTime('5m')
    .sign((await keyPair('evil')).privateKey);
  assert.is(await outcome(auth, forged), 'MCAUT');
  // Without kid and with a single key in the set, jose picks that key: a forgery still fails on it.
  const noKid = await new SignJWT({ sub: 'u-evil' })
    .setProtectedHeader({ alg: 'ES256' })
    .setExpirationTime('5m')
    .sign((await keyPair('evil')).privateKey);
  assert.is(await outcome(auth, noKid), 'MCAUT');
});

test('attack: a JWK embedded in the token header is not trusted', async () => {
  served = [await publicJwk('k1')];
  const auth = await makeAuth();
  const evil = await keyPair('evil');
  const token = await new SignJWT({ sub: 'u-evil' })
    .setProtectedHeader({ alg: 'ES256', kid: 'evil', jwk: await exportJWK(evil.publicKey) })
    .setExpirationTime('5m')
    .sign(evil.privateKey);
  assert.is(await outcome(auth, token), 'MCAUT');
});

test('a key set server that does not answer, or answers garbage, is a 401 (and logged), not a 500', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const logged: string[] = [];
  const unreachable = await makeAuth(`http://127.0.0.1:${port}/jwks.json`, (line) => logged.push(line));
  const token = await es256('k1');
  assert.is(await outcome(unreachable, token), 'MCAUT');
  assert.is(logged.length, 1);
  assert.match(logged[0] ?? '', /cannot use the JWKS/);
  assert.not.match(logged[0] ?? '', token.split('.')[2] ?? '-');

  served = [{ kty: 'nonsense' } as JWK];
  const broken = await makeAuth();
  assert.is(await outcome(broken, await es256('k1')), 'MCAUT');
});

test.run();
