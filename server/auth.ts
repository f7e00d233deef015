/**
 * Who is calling: the Authorization header turned into a Principal, or a 401 (docs/auth.md).
 *
 * - `Bearer <admin token>`: the admin.
 * - `Bearer <JWT>`: a site token (HS256 with the shared secret, or the one configured public-key
 *   algorithm), or Microchatter's own token (HS256, iss "microchatter", from POST /auth/token).
 * - `Basic <user:password>`: checked in SQL (bcrypt), with repeated failures slowed down.
 *
 * Every malformed or forged credential ends as ApiError MCAUT; only a database failure escapes as
 * something else (and then it is the server's problem, not the client's).
 */
import { createHash, createPublicKey, timingSafeEqual } from 'node:crypto';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyOptions,
  jwtVerify,
  SignJWT,
} from 'jose';
import postgres from 'postgres';
import type { Config } from './config.ts';
import type { Sql } from './db.ts';
import { ApiError } from './errors.ts';
import { createLoginThrottle } from './login-throttle.ts';
import { loadSecrets } from './secrets.ts';

export type Principal =
  /** expiresAt: when the credential stops being valid (epoch seconds); none for passwords. */
  { kind: 'user'; userId: string; expiresAt?: number | undefined } | { kind: 'admin' };

export interface Auth {
  /**
   * Who is calling, from the Authorization header (Bearer JWT / admin token, or Basic). Throws ApiError
   * MCAUT (401, with a WWW-Authenticate header) when absent or invalid, MCRAT (429 + Retry-After) when
   * login failures are being slowed down. Never throws anything else for bad input.
   */
  authenticate(request: Request, clientAddress: string): Promise<Principal>;
  /** Microchatter's own short-lived JWT for a user (HS256, iss 'microchatter'). */
  issueToken(userId: string, ttlSeconds?: number): Promise<{ token: string; expires_at: string }>;
  /**
   * The address login failures are counted against: the TCP peer, or with MICROCHATTER_TRUST_PROXY the
   * right-most X-Forwarded-For entry (the one our own proxy appended; the ones left of it are the
   * client's say-so).
   */
  clientAddress(request: Request, peerAddress: string | undefined): string;
  /** Drops caches; holds no timers, so nothing else to stop. */
  close(): void;
}

export interface AuthOptions {
  /** Where the one line about generated secrets goes. */
  log?: (line: string) => void;
  /** Minimum milliseconds between JWKS fetches prompted by an unknown `kid` (jose's default: 30 s). */
  jwksCooldownMs?: number;
}

/** `iss` of the tokens Microchatter issues itself. */
export const OWN_ISSUER = 'microchatter';
/** Longest lifetime `issueToken` grants: 30 days. */
export const MAX_TOKEN_TTL = 2_592_000;
/** Real tokens are well under 2 KB; anything much bigger is not worth parsing. */
const MAX_CREDENTIALS_LENGTH = 8192;
/** How long a user seen in the database is trusted to still exist without asking again. */
const KNOWN_USER_TTL_MS = 60_000;
const KNOWN_USERS_MAX = 10_000;
/** What chat_private.checked_user_id and checked_label call [[:cntrl:]]. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

const BEARER_CHALLENGE = 'Bearer realm="microchatter"';
const BASIC_CHALLENGE = 'Basic realm="microchatter", charset="UTF-8"';

/**
 * A 401. The Basic challenge is only sent to clients that tried Basic: browsers answer it with a login
 * dialog, which a site's script calling with a Bearer token must never trigger.
 */
export function unauthorized(message: string, basic = false): ApiError {
  return new ApiError('MCAUT', message, { 'WWW-Authenticate': basic ? BASIC_CHALLENGE : BEARER_CHALLENGE });
}

/**
 * A site user id as the SQL API accepts it (1-200 characters, no control characters), so that a bad
 * claim is a 401 here rather than a 400 from SQL. Integer claims are taken as their decimal text: many
 * sites put numeric ids in `sub`.
 */
export function validUserId(value: unknown): string | undefined {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== 'string') return undefined;
  const length = [...text].length;
  if (length < 1 || length > 200 || CONTROL_CHARACTERS.test(text)) return undefined;
  // One user however the site's token spells the id's Unicode, as in SQL (docs/auth.md).
  return text.normalize('NFC');
}

/**
 * Whole seconds in the form of every other timestamp of the API, PostgreSQL's made ISO 8601, which
 * drops a zero fraction: 2026-12-01T22:58:41+00:00.
 */
function apiTimestamp(epochSeconds: number): string {
  return new Date(Math.floor(epochSeconds) * 1000).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

/** A display name claim the SQL API would accept, or null: a bad name must not cost the user a login. */
function displayNameOf(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const name = value.trim();
  if (name === '' || [...name].length > 200 || CONTROL_CHARACTERS.test(name)) return null;
  return name;
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Compares digests, so neither the content nor the length of the admin token leaks through timing.
 * The expected one is hashed once, not per request.
 */
function secretMatcher(expected: string): (given: string) => boolean {
  const expectedDigest = digest(expected);
  return (given) => timingSafeEqual(digest(given), expectedDigest);
}

function parseBasic(credentials: string): { userId: string; password: string } | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(credentials)) return undefined;
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(credentials, 'base64'));
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const userId = validUserId(decoded.slice(0, colon));
  const password = decoded.slice(colon + 1);
  // PostgreSQL text cannot hold NUL: let it through and SQL would answer 400 instead of 401.
  if (!userId || password === '' || password.includes('\u0000')) return undefined;
  return { userId, password };
}

function isUnknownUser(error: unknown): boolean {
  return error instanceof postgres.PostgresError && error.code === 'MCUNU';
}

/** jose's failures that are about the key set's server, not about the token. */
function isKeySetFailure(error: unknown): boolean {
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return true;
  return !(error instanceof errors.JOSEError);
}

function rejection(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof errors.JWTExpired) return unauthorized('the token has expired');
  // Claim failures name the claim ("iss", "aud", "nbf", "exp" missing): what an integrator needs to
  // fix their signer, and nothing a forger could use.
  if (error instanceof errors.JWTClaimValidationFailed)
    return unauthorized(`invalid token: ${error.message}`);
  return unauthorized('invalid token');
}

export async function createAuth(config: Config, sql: Sql, options: AuthOptions = {}): Promise<Auth> {
  const log = options.log ?? console.log;
  const secrets = await loadSecrets(config, log);
  const secretKey = new TextEncoder().encode(secrets.jwtSecret);
  const isAdminToken = secretMatcher(secrets.adminToken);
  const publicKey = config.jwtPublicKey ? createPublicKey(config.jwtPublicKey) : undefined;
  const keySet = config.jwksUrl
    ? createRemoteJWKSet(new URL(config.jwksUrl), {
        ...(options.jwksCooldownMs === undefined ? {} : { cooldownDuration: options.jwksCooldownMs }),
      })
    : undefined;

  const expected: JWTVerifyOptions = {
    requiredClaims: ['exp'],
    clockTolerance: config.jwtClockTolerance,
  };
  const siteChecks: JWTVerifyOptions = {
    ...expected,
    ...(config.jwtIssuer ? { issuer: config.jwtIssuer } : {}),
    ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
  };

  const loginThrottle = createLoginThrottle(sql, {
    maxFailures: config.loginMaxFailures,
    windowSeconds: config.loginFailureWindow,
  });
  const knownUsers = new Map<string, number>();
  const lookups = new Map<string, Promise<void>>();
  /**
   * Tokens already verified, with whom they stand for, until they expire or for as long as a user is
   * "known": verifying a signature is most of the server's CPU per request otherwise (bench/http.ts).
   */
  const verifiedTokens = new Map<string, { principal: Principal; until: number }>();
  const rememberToken = (token: string, principal: Principal, expiresAt: number | undefined) => {
    const until = Math.min(Date.now() + KNOWN_USER_TTL_MS, (expiresAt ?? Number.POSITIVE_INFINITY) * 1000);
    verifiedTokens.set(token, { principal, until });
    for (const oldest of verifiedTokens.keys()) {
      if (verifiedTokens.size <= KNOWN_USERS_MAX) break;
      verifiedTokens.delete(oldest);
    }
  };

  /** Verifies signature and claims; says whether the token is one of ours. */
  async function verifyJwt(token: string): Promise<{ payload: JWTPayload; own: boolean }> {
    let algorithm: string | undefined;
    let issuer: unknown;
    try {
      algorithm = decodeProtectedHeader(token).alg;
      issuer = decodeJwt(token).iss;
    } catch {
      throw unauthorized('invalid token');
    }
    // The algorithm is chosen by the key, never by the token: HS256 only against the secret, the
    // configured algorithm only against the public key. A token signed with HS256 using the public
    // key's PEM as secret therefore meets the real secret and fails.
    if (algorithm === 'HS256') {
      // Reading `iss` before verification only picks which rules apply; verification enforces it.
      const own = issuer === OWN_ISSUER;
      const checks = own ? { ...expected, issuer: OWN_ISSUER } : siteChecks;
      const { payload } = await jwtVerify(token, secretKey, { ...checks, algorithms: ['HS256'] });
      return { payload, own };
    }
    if (algorithm !== undefined && algorithm === config.jwtAlgorithm) {
      const checks = { ...siteChecks, algorithms: [algorithm] };
      if (keySet) return { payload: (await jwtVerify(token, keySet, checks)).payload, own: false };
      if (publicKey) return { payload: (await jwtVerify(token, publicKey, checks)).payload, own: false };
    }
    throw unauthorized(`invalid token: algorithm ${JSON.stringify(algorithm ?? null)} is not accepted`);
  }

  function remember(userId: string): void {
    knownUsers.delete(userId);
    knownUsers.set(userId, Date.now() + KNOWN_USER_TTL_MS);
    // Oldest first in a Map: evicting from the front keeps the recently seen users.
    for (const oldest of knownUsers.keys()) {
      if (knownUsers.size <= KNOWN_USERS_MAX) break;
      knownUsers.delete(oldest);
    }
  }

  /**
   * Makes sure the user exists, creating it when allowed. Concurrent first requests of one user share
   * one query here; across processes, ensure_user's upsert makes sure there is still exactly one row.
   */
  async function knownUser(userId: string, displayName: string | null, create: boolean): Promise<void> {
    if ((knownUsers.get(userId) ?? 0) > Date.now()) return;
    let lookup = lookups.get(userId);
    if (!lookup) {
      const query = create
        ? sql`select 1 from chat_admin.ensure_user(${userId}, ${displayName})`
        : sql`select 1 from chat.me(${userId})`;
      lookup = query
        .then(() => remember(userId))
        .finally(() => {
          lookups.delete(userId);
        });
      lookups.set(userId, lookup);
    }
    try {
      await lookup;
    } catch (error) {
      if (isUnknownUser(error)) throw unauthorized('unknown user');
      throw error;
    }
  }

  async function bearer(token: string): Promise<Principal> {
    // A verified token first: the cache holds tokens that are not the admin token, and a hit spares
    // the hash of the admin check (the lookup's timing says nothing about the admin token).
    const cached = verifiedTokens.get(token);
    if (cached && cached.until > Date.now()) return cached.principal;
    if (isAdminToken(token)) return { kind: 'admin' };

    let verified: { payload: JWTPayload; own: boolean };
    try {
      verified = await verifyJwt(token);
    } catch (error) {
      if (keySet && isKeySetFailure(error) && !(error instanceof ApiError)) {
        // A 401 still: the token could not be verified. But the operator must hear of it.
        log(`Microchatter: cannot use the JWKS at ${config.jwksUrl}: ${(error as Error).message}`);
      }
      throw rejection(error);
    }

    const { payload, own } = verified;
    // Our own tokens are for users only; admin rights come from the site's signer or the admin token.
    if (!own && config.jwtAdminClaim && payload[config.jwtAdminClaim] === true) {
      rememberToken(token, { kind: 'admin' }, payload.exp);
      return { kind: 'admin' };
    }
    const claim = own ? 'sub' : config.jwtUserClaim;
    const userId = validUserId(payload[claim]);
    if (!userId) throw unauthorized(`invalid token: the ${claim} claim is not a valid user id`);
    // Our own tokens never create users: their user existed when they were issued, and one deleted
    // since must stay deleted.
    const create = !own && config.autoCreateUsers;
    await knownUser(userId, own ? null : displayNameOf(payload[config.jwtNameClaim]), create);
    const principal: Principal = { kind: 'user', userId, expiresAt: payload.exp };
    rememberToken(token, principal, payload.exp);
    return principal;
  }

  async function basic(credentials: string, clientAddress: string): Promise<Principal> {
    const parsed = parseBasic(credentials);
    // A malformed attempt counts as a failure against the address.
    const attempt = await loginThrottle.attempt(clientAddress, parsed?.userId);
    if (!parsed) throw unauthorized('malformed Basic credentials', true);

    let ok: boolean;
    try {
      const [row] = await sql<{ ok: boolean }[]>`
        select chat_admin.check_password(${parsed.userId}, ${parsed.password}) as ok`;
      ok = row?.ok === true;
    } catch (error) {
      await attempt.abandoned();
      throw error;
    }
    // The same answer for an unknown user and a wrong password: no user enumeration by message.
    if (!ok) throw unauthorized('wrong user id or password', true);
    await attempt.succeeded();
    return { kind: 'user', userId: parsed.userId };
  }

  return {
    async authenticate(request, clientAddress) {
      const header = request.headers.get('authorization');
      if (header === null || header.trim() === '') {
        throw unauthorized('credentials required: Authorization: Bearer <token> or Basic');
      }
      if (header.length > MAX_CREDENTIALS_LENGTH) throw unauthorized('the Authorization header is too long');
      const match = /^([A-Za-z]+) +(\S+) *$/.exec(header.trim());
      const scheme = match?.[1]?.toLowerCase();
      const credentials = match?.[2] ?? '';
      if (scheme === 'bearer') return bearer(credentials);
      if (scheme === 'basic') return basic(credentials, clientAddress);
      throw unauthorized('malformed Authorization header: expected Bearer <token> or Basic <credentials>');
    },

    async issueToken(userId, ttlSeconds = config.tokenTtl) {
      const subject = validUserId(userId);
      if (subject === undefined) {
        throw new ApiError('MCARG', 'user_id must be 1 to 200 characters without control characters');
      }
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TOKEN_TTL) {
        throw new ApiError('MCARG', `ttl_seconds must be a whole number from 1 to ${MAX_TOKEN_TTL}`);
      }
      const issuedAt = Math.floor(Date.now() / 1000);
      const expiresAt = issuedAt + ttlSeconds;
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(OWN_ISSUER)
        .setSubject(subject)
        .setIssuedAt(issuedAt)
        .setExpirationTime(expiresAt)
        .sign(secretKey);
      return { token, expires_at: apiTimestamp(expiresAt) };
    },

    clientAddress(request, peerAddress) {
      if (config.trustProxy) {
        const forwarded = request.headers.get('x-forwarded-for')?.split(',').at(-1)?.trim();
        if (forwarded) return forwarded;
      }
      return peerAddress ?? 'local';
    },

    close() {
      knownUsers.clear();
      verifiedTokens.clear();
    },
  };
}
