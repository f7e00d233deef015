/**
 * Server settings, read from the environment. A JSON file named by MICROCHATTER_CONFIG may supply
 * the same settings (keys are the environment variable names); the environment wins, so a deployment
 * can keep defaults in a file and override one value at launch.
 *
 * Every setting is declared once in `defaults` below: adding one means listing it there, parsing it in
 * `loadConfig`, adding a field to `Config`, and documenting it in the README.
 */
import { createPublicKey } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';

/** Asymmetric algorithms a site may sign its JWTs with; HS256 is for MICROCHATTER_JWT_SECRET only. */
export const publicKeyAlgorithms = ['RS256', 'ES256', 'EdDSA'] as const;
export type PublicKeyAlgorithm = (typeof publicKeyAlgorithms)[number];

export interface TlsFiles {
  keyPath: string;
  certPath: string;
  /** Extra CA bundle, for certificates signed by a private CA. */
  caPath: string | undefined;
}

export interface Config {
  /** TCP port of the HTTP server; 0 asks the OS for a free one (tests). */
  port: number;
  /**
   * Interface to bind. Default 127.0.0.1: Microchatter usually sits behind the site's reverse proxy
   * on the same host, and a chat API should not become reachable from the network by accident.
   * Containers set HOST=0.0.0.0.
   */
  host: string;
  /** Absent: start an embedded PostgreSQL in `dataDir`. */
  databaseUrl: string | undefined;
  /** Absolute path where embedded PostgreSQL keeps its files. */
  dataDir: string;
  /** Port of the embedded PostgreSQL (listens on 127.0.0.1 only). */
  embeddedPgPort: number;
  /**
   * Apply the committed migrations at start. Off when the server connects as a least-privilege role
   * and the owner migrates separately (`npm run db:migrate`).
   */
  migrate: boolean;

  // Authentication (docs/auth.md).
  /**
   * HS256 secret shared with the site, which also signs Microchatter's own tokens. Absent: generated
   * once into `dataDir` (server/secrets.ts).
   */
  jwtSecret: string | undefined;
  /** PEM of the site's public key (the setting may name a file holding it). */
  jwtPublicKey: string | undefined;
  /** The one algorithm accepted for `jwtPublicKey` or `jwksUrl`; set exactly when one of them is. */
  jwtAlgorithm: PublicKeyAlgorithm | undefined;
  jwksUrl: string | undefined;
  /** Required `iss` of site tokens, when set. */
  jwtIssuer: string | undefined;
  /** Required `aud` of site tokens, when set. */
  jwtAudience: string | undefined;
  /** Claim holding the site's user id. */
  jwtUserClaim: string;
  /** Claim holding the display name; absent or invalid in a token, the stored name stays. */
  jwtNameClaim: string;
  /** Seconds of clock skew forgiven on `exp` and `nbf`. */
  jwtClockTolerance: number;
  /** Claim that, when `true` in a valid site token, makes its bearer an admin. */
  jwtAdminClaim: string | undefined;
  /** Create a user on the first valid token for an id not seen before. */
  autoCreateUsers: boolean;
  /** Bearer token for /admin/*. Absent: generated once into `dataDir`. */
  adminToken: string | undefined;
  /** Lifetime in seconds of tokens from POST /auth/token. */
  tokenTtl: number;
  /** Failed password logins per user, and per client address, before logins are slowed down. */
  loginMaxFailures: number;
  /** Seconds over which `loginMaxFailures` failures are allowed. */
  loginFailureWindow: number;
  /** Take the client address from X-Forwarded-For (right-most entry): only behind a reverse proxy. */
  trustProxy: boolean;

  // Limits and transport, used by the HTTP server.
  /** Largest request body in bytes. */
  bodyLimit: number;
  /** Messages a user may send per minute; 0: no limit. */
  sendRatePerMinute: number;
  /** Origins allowed by CORS; empty: CORS off. */
  corsOrigins: string[];
  /** Both key and certificate set: serve HTTPS. */
  tls: TlsFiles | undefined;
  /** Milliseconds a client has to send a whole request. */
  requestTimeout: number;
  /** Milliseconds a client has to send the request headers. */
  headersTimeout: number;

  // Realtime (server/events).
  /** Milliseconds between heartbeat comments on event streams. */
  sseHeartbeatMs: number;
  /** The `retry:` hint sent to event stream clients, in milliseconds. */
  sseRetryMs: number;
  /** Unsent bytes after which a stream that stopped reading is cut off. */
  sseMaxBufferBytes: number;
  /** Event streams one user may hold on one process. */
  maxStreamsPerUser: number;
  /** Backstop poll of the event log, in milliseconds, for a lost notification. */
  eventPollMs: number;
  /** Days events are kept for resuming streams. */
  eventRetentionDays: number;
}

type RawSettings = Readonly<Record<string, string | undefined>>;

function parsePort(name: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    throw new Error(
      `Invalid setting ${name}=${JSON.stringify(value)}: expected a port number from 0 to 65535`,
    );
  }
  return Number(value);
}

function parseDatabaseUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(
      `Invalid setting ${name}: not a URL (expected postgres://user:password@host:port/database)`,
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(
      `Invalid setting ${name}: expected a postgres:// or postgresql:// URL, got ${url.protocol}//…`,
    );
  }
  if (url.pathname.length <= 1) {
    throw new Error(`Invalid setting ${name}: the URL must name a database (…/database)`);
  }
  return value;
}

function parseBoolean(name: string, value: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new Error(`Invalid setting ${name}=${JSON.stringify(value)}: expected true or false`);
}

function parseNonEmpty(name: string, value: string): string {
  if (value.trim() === '') throw new Error(`Invalid setting ${name}: must not be empty`);
  return value;
}

function parseInteger(name: string, value: string, min: number, max: number, unit: string): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new Error(
      `Invalid setting ${name}=${JSON.stringify(value)}: expected a whole number of ${unit} from ${min} to ${max}`,
    );
  }
  return Number(value);
}

/** Secrets are checked for length only, and never echoed in the message. */
function parseSecret(name: string, value: string): string {
  // 256 bits is what RFC 7518 asks of an HS256 key; a short one can be brute-forced offline from one token.
  if (value.length < 32) throw new Error(`Invalid setting ${name}: must be at least 32 characters long`);
  return value;
}

function parseAlgorithm(name: string, value: string): PublicKeyAlgorithm {
  const algorithm = publicKeyAlgorithms.find((known) => known === value);
  if (!algorithm) {
    throw new Error(
      `Invalid setting ${name}=${JSON.stringify(value)}: expected one of ${publicKeyAlgorithms.join(', ')}`,
    );
  }
  return algorithm;
}

/** The key types each algorithm verifies with, so a mismatch stops the start rather than every login. */
function checkKeyType(name: string, pem: string, algorithm: PublicKeyAlgorithm): void {
  let type: string | undefined;
  let curve: string | undefined;
  try {
    const key = createPublicKey(pem);
    type = key.asymmetricKeyType;
    curve = key.asymmetricKeyDetails?.namedCurve;
  } catch {
    throw new Error(`Invalid setting ${name}: not a PEM public key (or a file holding one)`);
  }
  const fits =
    (algorithm === 'RS256' && type === 'rsa') ||
    (algorithm === 'ES256' && type === 'ec' && curve === 'prime256v1') ||
    (algorithm === 'EdDSA' && type === 'ed25519');
  if (!fits) {
    throw new Error(
      `Invalid setting ${name}: a ${type}${curve ? ` (${curve})` : ''} key cannot verify MICROCHATTER_JWT_ALGORITHM=${algorithm}`,
    );
  }
}

/** PEM text as is, anything else is a file path (relative to the working directory). */
function readPublicKey(name: string, value: string, cwd: string): string {
  if (value.includes('-----BEGIN')) return value;
  const file = path.resolve(cwd, value);
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Invalid setting ${name}: neither PEM text nor a readable file: ${reason}`);
  }
}

function parseJwksUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`Invalid setting ${name}: not a URL`);
  }
  // Keys fetched in clear text could be swapped by anyone on the path; loopback is allowed for tests
  // and for a key service on the same host.
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new Error(`Invalid setting ${name}: expected an https:// URL (http:// only for localhost)`);
  }
  return value;
}

function parseClaimName(name: string, value: string): string {
  if (!/^[\x21-\x7e]{1,100}$/.test(value)) {
    throw new Error(`Invalid setting ${name}=${JSON.stringify(value)}: expected a claim name`);
  }
  return value;
}

function parseCorsOrigins(name: string, value: string): string[] {
  const origins = value
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '');
  for (const origin of origins) {
    // Credentials travel with these requests, so a wildcard would hand every site the user's session.
    if (origin === '*' || origin === 'null') {
      throw new Error(`Invalid setting ${name}: ${origin} is not allowed, list each origin`);
    }
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.origin !== origin || !/^https?:$/.test(parsed.protocol)) {
      throw new Error(
        `Invalid setting ${name}: ${JSON.stringify(origin)} is not an origin like https://www.example.com (no path or trailing slash)`,
      );
    }
  }
  return origins;
}

function readableFile(name: string, value: string, cwd: string): string {
  const file = path.resolve(cwd, value);
  try {
    accessSync(file, constants.R_OK);
  } catch {
    throw new Error(`Invalid setting ${name}: cannot read ${file}`);
  }
  return file;
}

function parseTls(read: (name: string) => string | undefined, cwd: string): TlsFiles | undefined {
  const key = read('TLS_KEY');
  const cert = read('TLS_CERT');
  const ca = read('TLS_CA');
  if (!key && !cert) {
    if (ca) throw new Error('Invalid setting TLS_CA: only meaningful with TLS_KEY and TLS_CERT');
    return undefined;
  }
  if (!key) throw new Error('Invalid setting TLS_KEY: required with TLS_CERT');
  if (!cert) throw new Error('Invalid setting TLS_CERT: required with TLS_KEY');
  return {
    keyPath: readableFile('TLS_KEY', key, cwd),
    certPath: readableFile('TLS_CERT', cert, cwd),
    caPath: ca ? readableFile('TLS_CA', ca, cwd) : undefined,
  };
}

/** Every known setting and its default; the file reader refuses names not listed here. */
const defaults: Readonly<Record<string, string | undefined>> = {
  PORT: '8080',
  HOST: '127.0.0.1',
  DATABASE_URL: undefined,
  MICROCHATTER_DATA_DIR: './.microchatter',
  MICROCHATTER_EMBEDDED_PG_PORT: '54329',
  MICROCHATTER_MIGRATE: 'true',
  MICROCHATTER_JWT_SECRET: undefined,
  MICROCHATTER_JWT_PUBLIC_KEY: undefined,
  MICROCHATTER_JWT_ALGORITHM: undefined,
  MICROCHATTER_JWKS_URL: undefined,
  MICROCHATTER_JWT_ISSUER: undefined,
  MICROCHATTER_JWT_AUDIENCE: undefined,
  MICROCHATTER_JWT_USER_CLAIM: 'sub',
  MICROCHATTER_JWT_NAME_CLAIM: 'name',
  MICROCHATTER_JWT_CLOCK_TOLERANCE: '30',
  MICROCHATTER_JWT_ADMIN_CLAIM: undefined,
  MICROCHATTER_AUTO_CREATE_USERS: 'true',
  MICROCHATTER_ADMIN_TOKEN: undefined,
  MICROCHATTER_TOKEN_TTL: '3600',
  MICROCHATTER_LOGIN_MAX_FAILURES: '5',
  MICROCHATTER_LOGIN_FAILURE_WINDOW: '900',
  MICROCHATTER_TRUST_PROXY: 'false',
  MICROCHATTER_BODY_LIMIT: '65536',
  MICROCHATTER_SEND_RATE_PER_MINUTE: '120',
  MICROCHATTER_CORS_ORIGINS: undefined,
  TLS_KEY: undefined,
  TLS_CERT: undefined,
  TLS_CA: undefined,
  MICROCHATTER_REQUEST_TIMEOUT: '30000',
  MICROCHATTER_HEADERS_TIMEOUT: '10000',
  MICROCHATTER_SSE_HEARTBEAT_MS: '15000',
  MICROCHATTER_SSE_RETRY_MS: '2000',
  MICROCHATTER_SSE_MAX_BUFFER: '1048576',
  MICROCHATTER_MAX_STREAMS_PER_USER: '20',
  MICROCHATTER_EVENT_POLL_MS: '1000',
  MICROCHATTER_EVENT_RETENTION_DAYS: '30',
};

/** Reads the optional JSON settings file; unknown keys are refused so a typo does not pass silently. */
function readConfigFile(file: string, cwd: string): RawSettings {
  const absolute = path.resolve(cwd, file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(absolute, 'utf8'));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Invalid setting MICROCHATTER_CONFIG: cannot read ${absolute}: ${reason}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`Invalid setting MICROCHATTER_CONFIG: ${absolute} must hold a JSON object`);
  }
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!Object.hasOwn(defaults, key)) {
      throw new Error(`Unknown setting ${key} in ${absolute} (known: ${Object.keys(defaults).join(', ')})`);
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new Error(`Invalid setting ${key} in ${absolute}: expected a string, number or boolean`);
    }
    values[key] = String(value);
  }
  return values;
}

/** Throws an Error naming the offending setting when a value is invalid. */
export function loadConfig(env: RawSettings = process.env, cwd: string = process.cwd()): Config {
  const fromFile = env.MICROCHATTER_CONFIG ? readConfigFile(env.MICROCHATTER_CONFIG, cwd) : {};

  // An empty variable counts as unset, as shells and compose files often export NAME= to clear it.
  const read = (name: string): string | undefined => env[name] || fromFile[name] || defaults[name];
  const required = (name: string): string => parseNonEmpty(name, read(name) ?? '');
  const databaseUrl = read('DATABASE_URL');
  const optional = <T>(name: string, parse: (name: string, value: string) => T): T | undefined => {
    const value = read(name);
    return value === undefined ? undefined : parse(name, value);
  };

  const publicKeySetting = read('MICROCHATTER_JWT_PUBLIC_KEY');
  const jwksUrl = optional('MICROCHATTER_JWKS_URL', parseJwksUrl);
  const jwtAlgorithm = optional('MICROCHATTER_JWT_ALGORITHM', parseAlgorithm);
  if (publicKeySetting && jwksUrl) {
    throw new Error(
      'Invalid setting MICROCHATTER_JWKS_URL: set MICROCHATTER_JWT_PUBLIC_KEY or MICROCHATTER_JWKS_URL, not both',
    );
  }
  // Pinning one algorithm is what stops a token from choosing how it is checked.
  if ((publicKeySetting || jwksUrl) && !jwtAlgorithm) {
    throw new Error(
      'Invalid setting MICROCHATTER_JWT_ALGORITHM: required with MICROCHATTER_JWT_PUBLIC_KEY or MICROCHATTER_JWKS_URL (RS256, ES256 or EdDSA)',
    );
  }
  if (jwtAlgorithm && !publicKeySetting && !jwksUrl) {
    throw new Error(
      'Invalid setting MICROCHATTER_JWT_ALGORITHM: only meaningful with MICROCHATTER_JWT_PUBLIC_KEY or MICROCHATTER_JWKS_URL',
    );
  }
  const jwtPublicKey = publicKeySetting
    ? readPublicKey('MICROCHATTER_JWT_PUBLIC_KEY', publicKeySetting, cwd)
    : undefined;
  if (jwtPublicKey && jwtAlgorithm) checkKeyType('MICROCHATTER_JWT_PUBLIC_KEY', jwtPublicKey, jwtAlgorithm);

  const requestTimeout = parseInteger(
    'MICROCHATTER_REQUEST_TIMEOUT',
    required('MICROCHATTER_REQUEST_TIMEOUT'),
    1,
    3_600_000,
    'milliseconds',
  );
  const headersTimeout = parseInteger(
    'MICROCHATTER_HEADERS_TIMEOUT',
    required('MICROCHATTER_HEADERS_TIMEOUT'),
    1,
    3_600_000,
    'milliseconds',
  );
  // Node refuses to start a server whose header timeout outlasts the whole request's.
  if (headersTimeout > requestTimeout) {
    throw new Error(
      `Invalid setting MICROCHATTER_HEADERS_TIMEOUT=${headersTimeout}: must not exceed MICROCHATTER_REQUEST_TIMEOUT=${requestTimeout}`,
    );
  }

  return {
    port: parsePort('PORT', required('PORT')),
    host: required('HOST'),
    databaseUrl: databaseUrl === undefined ? undefined : parseDatabaseUrl('DATABASE_URL', databaseUrl),
    dataDir: path.resolve(cwd, required('MICROCHATTER_DATA_DIR')),
    embeddedPgPort: parsePort('MICROCHATTER_EMBEDDED_PG_PORT', required('MICROCHATTER_EMBEDDED_PG_PORT')),
    migrate: parseBoolean('MICROCHATTER_MIGRATE', required('MICROCHATTER_MIGRATE')),
    jwtSecret: optional('MICROCHATTER_JWT_SECRET', parseSecret),
    jwtPublicKey,
    jwtAlgorithm,
    jwksUrl,
    jwtIssuer: optional('MICROCHATTER_JWT_ISSUER', parseNonEmpty),
    jwtAudience: optional('MICROCHATTER_JWT_AUDIENCE', parseNonEmpty),
    jwtUserClaim: parseClaimName('MICROCHATTER_JWT_USER_CLAIM', required('MICROCHATTER_JWT_USER_CLAIM')),
    jwtNameClaim: parseClaimName('MICROCHATTER_JWT_NAME_CLAIM', required('MICROCHATTER_JWT_NAME_CLAIM')),
    jwtClockTolerance: parseInteger(
      'MICROCHATTER_JWT_CLOCK_TOLERANCE',
      required('MICROCHATTER_JWT_CLOCK_TOLERANCE'),
      0,
      300,
      'seconds',
    ),
    jwtAdminClaim: optional('MICROCHATTER_JWT_ADMIN_CLAIM', parseClaimName),
    autoCreateUsers: parseBoolean(
      'MICROCHATTER_AUTO_CREATE_USERS',
      required('MICROCHATTER_AUTO_CREATE_USERS'),
    ),
    adminToken: optional('MICROCHATTER_ADMIN_TOKEN', parseSecret),
    tokenTtl: parseInteger(
      'MICROCHATTER_TOKEN_TTL',
      required('MICROCHATTER_TOKEN_TTL'),
      60,
      2_592_000,
      'seconds',
    ),
    loginMaxFailures: parseInteger(
      'MICROCHATTER_LOGIN_MAX_FAILURES',
      required('MICROCHATTER_LOGIN_MAX_FAILURES'),
      1,
      1000,
      'failures',
    ),
    loginFailureWindow: parseInteger(
      'MICROCHATTER_LOGIN_FAILURE_WINDOW',
      required('MICROCHATTER_LOGIN_FAILURE_WINDOW'),
      1,
      86_400,
      'seconds',
    ),
    trustProxy: parseBoolean('MICROCHATTER_TRUST_PROXY', required('MICROCHATTER_TRUST_PROXY')),
    bodyLimit: parseInteger(
      'MICROCHATTER_BODY_LIMIT',
      required('MICROCHATTER_BODY_LIMIT'),
      1024,
      104_857_600,
      'bytes',
    ),
    sendRatePerMinute: parseInteger(
      'MICROCHATTER_SEND_RATE_PER_MINUTE',
      required('MICROCHATTER_SEND_RATE_PER_MINUTE'),
      0,
      1_000_000,
      'messages',
    ),
    corsOrigins: parseCorsOrigins('MICROCHATTER_CORS_ORIGINS', read('MICROCHATTER_CORS_ORIGINS') ?? ''),
    tls: parseTls(read, cwd),
    requestTimeout,
    headersTimeout,
    sseHeartbeatMs: parseInteger(
      'MICROCHATTER_SSE_HEARTBEAT_MS',
      required('MICROCHATTER_SSE_HEARTBEAT_MS'),
      100,
      3_600_000,
      'milliseconds',
    ),
    sseRetryMs: parseInteger(
      'MICROCHATTER_SSE_RETRY_MS',
      required('MICROCHATTER_SSE_RETRY_MS'),
      0,
      3_600_000,
      'milliseconds',
    ),
    sseMaxBufferBytes: parseInteger(
      'MICROCHATTER_SSE_MAX_BUFFER',
      required('MICROCHATTER_SSE_MAX_BUFFER'),
      16_384,
      1_073_741_824,
      'bytes',
    ),
    maxStreamsPerUser: parseInteger(
      'MICROCHATTER_MAX_STREAMS_PER_USER',
      required('MICROCHATTER_MAX_STREAMS_PER_USER'),
      1,
      10_000,
      'streams',
    ),
    eventPollMs: parseInteger(
      'MICROCHATTER_EVENT_POLL_MS',
      required('MICROCHATTER_EVENT_POLL_MS'),
      10,
      600_000,
      'milliseconds',
    ),
    eventRetentionDays: parseInteger(
      'MICROCHATTER_EVENT_RETENTION_DAYS',
      required('MICROCHATTER_EVENT_RETENTION_DAYS'),
      1,
      3650,
      'days',
    ),
  };
}
