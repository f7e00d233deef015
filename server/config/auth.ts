/** Settings of authentication (docs/auth.md): site tokens, Microchatter's own tokens, login throttling. */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { group, type Rule, type Settings, settingsObject, type Values } from './define.ts';
import { boolean, claimName, integer, nonEmpty, oneOf, parsedUrl, secret } from './kinds.ts';

/** Asymmetric algorithms a site may sign its JWTs with; HS256 is for MICROCHATTER_JWT_SECRET only. */
export const publicKeyAlgorithms = ['RS256', 'ES256', 'EdDSA'] as const;
export type PublicKeyAlgorithm = (typeof publicKeyAlgorithms)[number];

// 256 bits is what RFC 7518 asks of an HS256 key; a short one can be brute-forced offline from one token.
const secretLength = 32;

/** PEM text as is, anything else is a file path (relative to the working directory). */
function publicKey(cwd: string) {
  return z.string().transform((value, ctx) => {
    if (value.includes('-----BEGIN')) return value;
    try {
      return readFileSync(path.resolve(cwd, value), 'utf8');
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      ctx.addIssue(`neither PEM text nor a readable file: ${reason}`);
      return z.NEVER;
    }
  });
}

const jwksUrl = z.string().transform((value, ctx) => {
  const url = parsedUrl(value, ctx, 'not a URL');
  if (!url) return z.NEVER;
  // Keys fetched in clear text could be swapped by anyone on the path; loopback is allowed for tests
  // and for a key service on the same host.
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    ctx.addIssue('expected an https:// URL (http:// only for localhost)');
    return z.NEVER;
  }
  return value;
});

const settings = {
  jwtSecret: {
    env: 'MICROCHATTER_JWT_SECRET',
    shownDefault: 'generated',
    doc: "HS256 secret shared with your site (≥ 32 characters); also signs Microchatter's own tokens. Absent: generated into `$MICROCHATTER_DATA_DIR/jwt-secret`",
    schema: secret(secretLength),
    secret: true,
  },
  jwtPublicKey: {
    env: 'MICROCHATTER_JWT_PUBLIC_KEY',
    doc: "your site's public key, PEM text or a file path, for RS256/ES256/EdDSA tokens",
    schema: publicKey,
  },
  jwksUrl: {
    env: 'MICROCHATTER_JWKS_URL',
    doc: "instead of a public key: your site's JWKS (https; cached, fetched again on an unknown `kid`)",
    schema: jwksUrl,
  },
  jwtAlgorithm: {
    env: 'MICROCHATTER_JWT_ALGORITHM',
    doc: '`RS256`, `ES256` or `EdDSA`: the one algorithm accepted for the public key or JWKS (required with them)',
    schema: oneOf(publicKeyAlgorithms),
  },
  jwtIssuer: {
    env: 'MICROCHATTER_JWT_ISSUER',
    doc: 'required `iss` of site tokens',
    schema: nonEmpty,
  },
  jwtAudience: {
    env: 'MICROCHATTER_JWT_AUDIENCE',
    doc: 'required `aud` of site tokens',
    schema: nonEmpty,
  },
  jwtUserClaim: {
    env: 'MICROCHATTER_JWT_USER_CLAIM',
    default: 'sub',
    doc: "claim holding the site's user id (a string, or an integer taken as its decimal text)",
    schema: claimName,
  },
  // Absent or invalid in a token, the stored name stays.
  jwtNameClaim: {
    env: 'MICROCHATTER_JWT_NAME_CLAIM',
    default: 'name',
    doc: 'claim holding the display name',
    schema: claimName,
  },
  jwtClockTolerance: {
    env: 'MICROCHATTER_JWT_CLOCK_TOLERANCE',
    default: '30',
    doc: 'seconds of clock skew forgiven on `exp` and `nbf` (0 to 300)',
    schema: integer(0, 300, 'seconds'),
  },
  jwtAdminClaim: {
    env: 'MICROCHATTER_JWT_ADMIN_CLAIM',
    doc: 'claim that makes a site token an admin credential when `true`',
    schema: claimName,
  },
  autoCreateUsers: {
    env: 'MICROCHATTER_AUTO_CREATE_USERS',
    default: 'true',
    doc: 'create a user on its first valid site token; `false`: unknown users get 401',
    schema: boolean,
  },
  adminToken: {
    env: 'MICROCHATTER_ADMIN_TOKEN',
    shownDefault: 'generated',
    doc: 'Bearer token for `/admin/*` (≥ 32 characters). Absent: generated into `$MICROCHATTER_DATA_DIR/admin-token`',
    schema: secret(secretLength),
    secret: true,
  },
  tokenTtl: {
    env: 'MICROCHATTER_TOKEN_TTL',
    default: '3600',
    doc: 'lifetime in seconds of tokens from `POST /auth/token` (60 to 2592000)',
    schema: integer(60, 2_592_000, 'seconds'),
  },
  loginMaxFailures: {
    env: 'MICROCHATTER_LOGIN_MAX_FAILURES',
    default: '5',
    doc: 'failed password logins per user, and per client address, before 429',
    schema: integer(1, 1000, 'failures'),
  },
  loginFailureWindow: {
    env: 'MICROCHATTER_LOGIN_FAILURE_WINDOW',
    default: '900',
    doc: 'seconds over which those failures are allowed',
    schema: integer(1, 86_400, 'seconds'),
  },
  trustProxy: {
    env: 'MICROCHATTER_TRUST_PROXY',
    default: 'false',
    doc: 'take the client address from `X-Forwarded-For` (only behind a reverse proxy that sets it)',
    schema: boolean,
  },
} satisfies Settings;

type Parsed = Values<typeof settings>;

const oneKeySource: Rule<Parsed> = ({ jwtPublicKey, jwksUrl }) =>
  jwtPublicKey && jwksUrl
    ? {
        field: 'jwksUrl',
        message: 'set MICROCHATTER_JWT_PUBLIC_KEY or MICROCHATTER_JWKS_URL, not both',
      }
    : undefined;

// Pinning one algorithm is what stops a token from choosing how it is checked.
const algorithmPinned: Rule<Parsed> = ({ jwtPublicKey, jwksUrl, jwtAlgorithm }) => {
  const keySource = jwtPublicKey !== undefined || jwksUrl !== undefined;
  if (keySource && !jwtAlgorithm) {
    return {
      field: 'jwtAlgorithm',
      message: 'required with MICROCHATTER_JWT_PUBLIC_KEY or MICROCHATTER_JWKS_URL (RS256, ES256 or EdDSA)',
    };
  }
  if (!keySource && jwtAlgorithm) {
    return {
      field: 'jwtAlgorithm',
      message: 'only meaningful with MICROCHATTER_JWT_PUBLIC_KEY or MICROCHATTER_JWKS_URL',
    };
  }
  return undefined;
};

/** A key that cannot verify the pinned algorithm stops the start rather than every login. */
const keyFitsAlgorithm: Rule<Parsed> = ({ jwtPublicKey, jwtAlgorithm }) => {
  if (!jwtPublicKey || !jwtAlgorithm) return undefined;
  let type: string | undefined;
  let curve: string | undefined;
  try {
    const key = createPublicKey(jwtPublicKey);
    type = key.asymmetricKeyType;
    curve = key.asymmetricKeyDetails?.namedCurve;
  } catch {
    return { field: 'jwtPublicKey', message: 'not a PEM public key (or a file holding one)' };
  }
  const fits =
    (jwtAlgorithm === 'RS256' && type === 'rsa') ||
    (jwtAlgorithm === 'ES256' && type === 'ec' && curve === 'prime256v1') ||
    (jwtAlgorithm === 'EdDSA' && type === 'ed25519');
  if (fits) return undefined;
  return {
    field: 'jwtPublicKey',
    message: `a ${type}${curve ? ` (${curve})` : ''} key cannot verify MICROCHATTER_JWT_ALGORITHM=${jwtAlgorithm}`,
  };
};

export const auth = group({
  title: 'Authentication',
  settings,
  schema: (cwd) => settingsObject(settings, cwd, [oneKeySource, algorithmPinned, keyFitsAlgorithm]),
});
