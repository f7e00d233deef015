/** Settings: defaults, parsing, and a refusal naming the setting for every bad value. */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../server/config.ts';

let dir: string;
const rsaPem = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
const ecPem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
const ed25519Pem = generateKeyPairSync('ed25519')
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
const SECRET = 'a-long-enough-secret-0123456789abcdef';

test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'microchatter-config-'));
  await writeFile(path.join(dir, 'site.pem'), rsaPem);
  await writeFile(path.join(dir, 'tls.key'), 'key');
  await writeFile(path.join(dir, 'tls.crt'), 'cert');
});

test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Asserts that loading fails with a message naming `setting`, and returns the message. */
function refused(env: Record<string, string>, setting: string): string {
  try {
    loadConfig(env, dir);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    assert.ok(message.includes(setting), `expected ${setting} in: ${message}`);
    return message;
  }
  assert.unreachable(`accepted ${JSON.stringify(env).slice(0, 200)}`);
  return '';
}

test('defaults of the authentication and limit settings', () => {
  const config = loadConfig({}, dir);
  assert.equal(
    {
      jwtSecret: config.jwtSecret,
      jwtPublicKey: config.jwtPublicKey,
      jwtAlgorithm: config.jwtAlgorithm,
      jwksUrl: config.jwksUrl,
      jwtIssuer: config.jwtIssuer,
      jwtAudience: config.jwtAudience,
      jwtUserClaim: config.jwtUserClaim,
      jwtNameClaim: config.jwtNameClaim,
      jwtClockTolerance: config.jwtClockTolerance,
      jwtAdminClaim: config.jwtAdminClaim,
      autoCreateUsers: config.autoCreateUsers,
      adminToken: config.adminToken,
      tokenTtl: config.tokenTtl,
      loginMaxFailures: config.loginMaxFailures,
      loginFailureWindow: config.loginFailureWindow,
      trustProxy: config.trustProxy,
      bodyLimit: config.bodyLimit,
      sendRatePerMinute: config.sendRatePerMinute,
      corsOrigins: config.corsOrigins,
      tls: config.tls,
      requestTimeout: config.requestTimeout,
      headersTimeout: config.headersTimeout,
    },
    {
      jwtSecret: undefined,
      jwtPublicKey: undefined,
      jwtAlgorithm: undefined,
      jwksUrl: undefined,
      jwtIssuer: undefined,
      jwtAudience: undefined,
      jwtUserClaim: 'sub',
      jwtNameClaim: 'name',
      jwtClockTolerance: 30,
      jwtAdminClaim: undefined,
      autoCreateUsers: true,
      adminToken: undefined,
      tokenTtl: 3600,
      loginMaxFailures: 5,
      loginFailureWindow: 900,
      trustProxy: false,
      bodyLimit: 65536,
      sendRatePerMinute: 120,
      corsOrigins: [],
      tls: undefined,
      requestTimeout: 30000,
      headersTimeout: 10000,
    },
  );
});

test('values are parsed: numbers, booleans, CORS list, TLS paths, issuer and audience', () => {
  const config = loadConfig(
    {
      MICROCHATTER_JWT_SECRET: SECRET,
      MICROCHATTER_ADMIN_TOKEN: `${SECRET}-admin`,
      MICROCHATTER_JWT_ISSUER: 'https://www.example.com',
      MICROCHATTER_JWT_AUDIENCE: 'chat',
      MICROCHATTER_JWT_USER_CLAIM: 'uid',
      MICROCHATTER_JWT_NAME_CLAIM: 'nickname',
      MICROCHATTER_JWT_CLOCK_TOLERANCE: '0',
      MICROCHATTER_JWT_ADMIN_CLAIM: 'microchatter_admin',
      MICROCHATTER_AUTO_CREATE_USERS: 'false',
      MICROCHATTER_TOKEN_TTL: '600',
      MICROCHATTER_LOGIN_MAX_FAILURES: '10',
      MICROCHATTER_LOGIN_FAILURE_WINDOW: '60',
      MICROCHATTER_TRUST_PROXY: '1',
      MICROCHATTER_BODY_LIMIT: '1048576',
      MICROCHATTER_SEND_RATE_PER_MINUTE: '0',
      MICROCHATTER_CORS_ORIGINS: 'https://www.example.com, http://localhost:3000',
      TLS_KEY: 'tls.key',
      TLS_CERT: path.join(dir, 'tls.crt'),
      MICROCHATTER_REQUEST_TIMEOUT: '60000',
      MICROCHATTER_HEADERS_TIMEOUT: '60000',
    },
    dir,
  );
  assert.is(config.jwtSecret, SECRET);
  assert.is(config.jwtIssuer, 'https://www.example.com');
  assert.is(config.jwtAudience, 'chat');
  assert.is(config.jwtUserClaim, 'uid');
  assert.is(config.jwtClockTolerance, 0);
  assert.is(config.autoCreateUsers, false);
  assert.is(config.trustProxy, true);
  assert.is(config.sendRatePerMinute, 0);
  assert.equal(config.corsOrigins, ['https://www.example.com', 'http://localhost:3000']);
  assert.equal(config.tls, {
    keyPath: path.join(dir, 'tls.key'),
    certPath: path.join(dir, 'tls.crt'),
    caPath: undefined,
  });
});

test('a public key is read as PEM text or from a file, and must fit the algorithm', () => {
  assert.is(
    loadConfig({ MICROCHATTER_JWT_PUBLIC_KEY: rsaPem, MICROCHATTER_JWT_ALGORITHM: 'RS256' }, dir)
      .jwtPublicKey,
    rsaPem,
  );
  assert.is(
    loadConfig({ MICROCHATTER_JWT_PUBLIC_KEY: 'site.pem', MICROCHATTER_JWT_ALGORITHM: 'RS256' }, dir)
      .jwtPublicKey,
    rsaPem,
  );
  assert.ok(loadConfig({ MICROCHATTER_JWT_PUBLIC_KEY: ecPem, MICROCHATTER_JWT_ALGORITHM: 'ES256' }, dir));
  assert.ok(
    loadConfig({ MICROCHATTER_JWT_PUBLIC_KEY: ed25519Pem, MICROCHATTER_JWT_ALGORITHM: 'EdDSA' }, dir),
  );
  refused(
    { MICROCHATTER_JWT_PUBLIC_KEY: rsaPem, MICROCHATTER_JWT_ALGORITHM: 'ES256' },
    'MICROCHATTER_JWT_PUBLIC_KEY',
  );
  refused(
    { MICROCHATTER_JWT_PUBLIC_KEY: ecPem, MICROCHATTER_JWT_ALGORITHM: 'EdDSA' },
    'MICROCHATTER_JWT_PUBLIC_KEY',
  );
  refused(
    { MICROCHATTER_JWT_PUBLIC_KEY: ed25519Pem, MICROCHATTER_JWT_ALGORITHM: 'RS256' },
    'MICROCHATTER_JWT_PUBLIC_KEY',
  );
  refused(
    {
      MICROCHATTER_JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----',
      MICROCHATTER_JWT_ALGORITHM: 'RS256',
    },
    'MICROCHATTER_JWT_PUBLIC_KEY',
  );
  refused(
    { MICROCHATTER_JWT_PUBLIC_KEY: 'missing.pem', MICROCHATTER_JWT_ALGORITHM: 'RS256' },
    'MICROCHATTER_JWT_PUBLIC_KEY',
  );
});

test('the algorithm is required with a public key or JWKS, and only then; not both key sources', () => {
  refused({ MICROCHATTER_JWT_PUBLIC_KEY: rsaPem }, 'MICROCHATTER_JWT_ALGORITHM');
  refused({ MICROCHATTER_JWKS_URL: 'https://www.example.com/jwks.json' }, 'MICROCHATTER_JWT_ALGORITHM');
  refused({ MICROCHATTER_JWT_ALGORITHM: 'RS256' }, 'MICROCHATTER_JWT_ALGORITHM');
  for (const algorithm of ['HS256', 'none', 'rs256', 'PS256']) {
    refused(
      { MICROCHATTER_JWT_PUBLIC_KEY: rsaPem, MICROCHATTER_JWT_ALGORITHM: algorithm },
      'MICROCHATTER_JWT_ALGORITHM',
    );
  }
  refused(
    {
      MICROCHATTER_JWT_PUBLIC_KEY: rsaPem,
      MICROCHATTER_JWKS_URL: 'https://www.example.com/jwks.json',
      MICROCHATTER_JWT_ALGORITHM: 'RS256',
    },
    'MICROCHATTER_JWKS_URL',
  );
});

test('a JWKS URL must be https (http only on loopback)', () => {
  const jwks = (url: string) => ({ MICROCHATTER_JWKS_URL: url, MICROCHATTER_JWT_ALGORITHM: 'ES256' });
  assert.is(
    loadConfig(jwks('https://id.example.com/jwks.json'), dir).jwksUrl,
    'https://id.example.com/jwks.json',
  );
  assert.ok(loadConfig(jwks('http://127.0.0.1:9000/jwks.json'), dir).jwksUrl);
  assert.ok(loadConfig(jwks('http://localhost/jwks.json'), dir).jwksUrl);
  refused(jwks('http://id.example.com/jwks.json'), 'MICROCHATTER_JWKS_URL');
  refused(jwks('file:///etc/passwd'), 'MICROCHATTER_JWKS_URL');
  refused(jwks('not a url'), 'MICROCHATTER_JWKS_URL');
});

test('secrets shorter than 32 characters are refused without echoing them', () => {
  const message = refused({ MICROCHATTER_JWT_SECRET: 'hunter2-hunter2' }, 'MICROCHATTER_JWT_SECRET');
  assert.not.ok(message.includes('hunter2'), message);
  const admin = refused({ MICROCHATTER_ADMIN_TOKEN: 'letmein' }, 'MICROCHATTER_ADMIN_TOKEN');
  assert.not.ok(admin.includes('letmein'), admin);
});

test('every bad number, boolean or claim name is refused naming its setting', () => {
  const cases: [string, string][] = [
    ['MICROCHATTER_JWT_CLOCK_TOLERANCE', '-1'],
    ['MICROCHATTER_JWT_CLOCK_TOLERANCE', '301'],
    ['MICROCHATTER_JWT_CLOCK_TOLERANCE', '1.5'],
    ['MICROCHATTER_TOKEN_TTL', '59'],
    ['MICROCHATTER_TOKEN_TTL', 'an hour'],
    ['MICROCHATTER_LOGIN_MAX_FAILURES', '0'],
    ['MICROCHATTER_LOGIN_FAILURE_WINDOW', '0'],
    ['MICROCHATTER_LOGIN_FAILURE_WINDOW', '15m'],
    ['MICROCHATTER_BODY_LIMIT', '100'],
    ['MICROCHATTER_BODY_LIMIT', '64k'],
    ['MICROCHATTER_SEND_RATE_PER_MINUTE', '-5'],
    ['MICROCHATTER_REQUEST_TIMEOUT', '0'],
    ['MICROCHATTER_HEADERS_TIMEOUT', 'soon'],
    ['MICROCHATTER_AUTO_CREATE_USERS', 'yes'],
    ['MICROCHATTER_TRUST_PROXY', 'maybe'],
    ['MICROCHATTER_JWT_USER_CLAIM', 'user id'],
    ['MICROCHATTER_JWT_NAME_CLAIM', ' '],
    ['MICROCHATTER_JWT_ADMIN_CLAIM', 'x'.repeat(101)],
    ['MICROCHATTER_JWT_ISSUER', '  '],
  ];
  for (const [setting, value] of cases) refused({ [setting]: value }, setting);
});

test('the headers timeout may not exceed the request timeout', () => {
  refused(
    { MICROCHATTER_REQUEST_TIMEOUT: '5000', MICROCHATTER_HEADERS_TIMEOUT: '10000' },
    'MICROCHATTER_HEADERS_TIMEOUT',
  );
});

test('CORS origins: no wildcard, no null, only exact origins', () => {
  for (const value of ['*', 'https://a.example, *', 'null'])
    refused({ MICROCHATTER_CORS_ORIGINS: value }, 'MICROCHATTER_CORS_ORIGINS');
  for (const value of ['https://a.example/', 'https://a.example/app', 'a.example', 'ftp://a.example']) {
    refused({ MICROCHATTER_CORS_ORIGINS: value }, 'MICROCHATTER_CORS_ORIGINS');
  }
});

test('TLS key and certificate go together, and must be readable', () => {
  refused({ TLS_KEY: 'tls.key' }, 'TLS_CERT');
  refused({ TLS_CERT: 'tls.crt' }, 'TLS_KEY');
  refused({ TLS_CA: 'tls.crt' }, 'TLS_CA');
  refused({ TLS_KEY: 'missing.key', TLS_CERT: 'tls.crt' }, 'TLS_KEY');
  refused({ TLS_KEY: 'tls.key', TLS_CERT: 'tls.crt', TLS_CA: 'missing.ca' }, 'TLS_CA');
  assert.is(
    loadConfig({ TLS_KEY: 'tls.key', TLS_CERT: 'tls.crt', TLS_CA: 'tls.crt' }, dir).tls?.caPath,
    path.join(dir, 'tls.crt'),
  );
});

test('load shedding, pool size, log level and metrics token: defaults, values and refusals', () => {
  const defaults = loadConfig({}, dir);
  assert.equal(
    {
      maxInFlight: defaults.maxInFlight,
      dbPoolMax: defaults.dbPoolMax,
      logLevel: defaults.logLevel,
      metricsToken: defaults.metricsToken,
    },
    { maxInFlight: 256, dbPoolMax: 10, logLevel: 'info', metricsToken: undefined },
  );
  const config = loadConfig(
    {
      MICROCHATTER_MAX_IN_FLIGHT: '1',
      MICROCHATTER_DB_POOL_MAX: '1000',
      MICROCHATTER_LOG_LEVEL: 'silent',
      MICROCHATTER_METRICS_TOKEN: 'sixteen-chars-ok',
    },
    dir,
  );
  assert.is(config.maxInFlight, 1);
  assert.is(config.dbPoolMax, 1000);
  assert.is(config.logLevel, 'silent');
  assert.is(config.metricsToken, 'sixteen-chars-ok');
  const cases: [string, string][] = [
    ['MICROCHATTER_MAX_IN_FLIGHT', '0'],
    ['MICROCHATTER_MAX_IN_FLIGHT', '100001'],
    ['MICROCHATTER_DB_POOL_MAX', '0'],
    ['MICROCHATTER_DB_POOL_MAX', '1001'],
    ['MICROCHATTER_LOG_LEVEL', 'verbose'],
    ['MICROCHATTER_LOG_LEVEL', 'INFO'],
  ];
  for (const [setting, value] of cases) refused({ [setting]: value }, setting);
  const message = refused({ MICROCHATTER_METRICS_TOKEN: 'too-short-tok' }, 'MICROCHATTER_METRICS_TOKEN');
  assert.not.ok(message.includes('too-short-tok'), message);
});

test('a database URL is refused without echoing it, as it may carry a password', () => {
  const message = refused({ DATABASE_URL: 'mysql://app:s3cret@db/chat' }, 'DATABASE_URL');
  assert.not.ok(message.includes('s3cret'), message);
  refused({ DATABASE_URL: 'postgres://app@db' }, 'DATABASE_URL');
  assert.is(
    loadConfig({ DATABASE_URL: 'postgres://app@db:5432/chat' }, dir).databaseUrl,
    'postgres://app@db:5432/chat',
  );
});

test('the JSON settings file refuses unknown names and values that are not scalars', async () => {
  const file = path.join(dir, 'bad-settings.json');
  await writeFile(file, JSON.stringify({ MICROCHATTER_MAX_INFLIGHT: 10 }));
  refused({ MICROCHATTER_CONFIG: file }, 'MICROCHATTER_MAX_INFLIGHT');
  await writeFile(file, JSON.stringify({ MICROCHATTER_CORS_ORIGINS: ['https://a.example'] }));
  refused({ MICROCHATTER_CONFIG: file }, 'MICROCHATTER_CORS_ORIGINS');
  await writeFile(file, '[]');
  refused({ MICROCHATTER_CONFIG: file }, 'MICROCHATTER_CONFIG');
  refused({ MICROCHATTER_CONFIG: 'missing.json' }, 'MICROCHATTER_CONFIG');
});

test('the JSON settings file knows the new settings too', async () => {
  const file = path.join(dir, 'settings.json');
  await writeFile(
    file,
    JSON.stringify({
      MICROCHATTER_JWT_CLOCK_TOLERANCE: 5,
      MICROCHATTER_AUTO_CREATE_USERS: false,
      MICROCHATTER_CORS_ORIGINS: 'https://a.example',
    }),
  );
  const config = loadConfig({ MICROCHATTER_CONFIG: file, MICROCHATTER_JWT_CLOCK_TOLERANCE: '7' }, dir);
  assert.is(config.jwtClockTolerance, 7, 'the environment wins');
  assert.is(config.autoCreateUsers, false);
  assert.equal(config.corsOrigins, ['https://a.example']);
});

test.run();
