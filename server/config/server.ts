/** Settings of the HTTP server: where it listens, TLS, timeouts, CORS. */
import { z } from 'zod';
import { group, type Rule, type Settings, settingsObject, type Values } from './define.ts';
import { boolean, integer, nonEmpty, parsedUrl, port, readableFile } from './kinds.ts';

export interface TlsFiles {
  keyPath: string;
  certPath: string;
  /** Extra CA bundle, for certificates signed by a private CA. */
  caPath: string | undefined;
}

const corsOrigins = z.string().transform((value, ctx) => {
  const origins = value
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '');
  for (const origin of origins) {
    // Credentials travel with these requests, so a wildcard would hand every site the user's session.
    if (origin === '*' || origin === 'null') {
      ctx.addIssue(`${origin} is not allowed, list each origin`);
      return z.NEVER;
    }
    const notAnOrigin = `${JSON.stringify(origin)} is not an origin like https://www.example.com (no path or trailing slash)`;
    const parsed = parsedUrl(origin, ctx, notAnOrigin);
    if (!parsed) return z.NEVER;
    if (parsed.origin !== origin || !/^https?:$/.test(parsed.protocol)) {
      ctx.addIssue(notAnOrigin);
      return z.NEVER;
    }
  }
  return origins;
});

const settings = {
  port: { env: 'PORT', default: '8080', doc: 'HTTP port', schema: port },
  // Microchatter usually sits behind the site's reverse proxy on the same host, and a chat API should
  // not become reachable from the network by accident.
  host: {
    env: 'HOST',
    default: '127.0.0.1',
    doc: 'interface to bind; `0.0.0.0` to serve the network (e.g. in a container)',
    schema: nonEmpty,
  },
  tlsKey: {
    env: 'TLS_KEY',
    doc: 'PEM file of the private key (with `TLS_CERT`): serve HTTPS',
    schema: readableFile,
  },
  tlsCert: {
    env: 'TLS_CERT',
    doc: 'PEM file of the certificate (with `TLS_KEY`)',
    schema: readableFile,
  },
  tlsCa: {
    env: 'TLS_CA',
    doc: 'PEM file of extra CA certificates (with `TLS_KEY` and `TLS_CERT`)',
    schema: readableFile,
  },
  requestTimeout: {
    env: 'MICROCHATTER_REQUEST_TIMEOUT',
    default: '30000',
    doc: 'milliseconds a client has to send a whole request',
    schema: integer(1, 3_600_000, 'milliseconds'),
  },
  headersTimeout: {
    env: 'MICROCHATTER_HEADERS_TIMEOUT',
    default: '10000',
    doc: 'milliseconds a client has to send the request headers (at most the request timeout)',
    schema: integer(1, 3_600_000, 'milliseconds'),
  },
  corsOrigins: {
    env: 'MICROCHATTER_CORS_ORIGINS',
    default: '',
    shownDefault: '—',
    doc: 'comma-separated origins allowed by CORS (`https://www.example.com`); empty: CORS off; `*` is refused',
    schema: corsOrigins,
  },
  // No default: unset means on with the embedded database (a developer trying Microchatter), off with
  // DATABASE_URL (a deployment), which server/main.ts decides.
  demo: {
    env: 'MICROCHATTER_DEMO',
    shownDefault: 'on if embedded',
    doc: 'serve the chat page at `/demo` with a dev sign-in that mints a token for any user id (**never in production**); unset: on with the embedded database, off with `DATABASE_URL`',
    schema: boolean,
  },
} satisfies Settings;

type Parsed = Values<typeof settings>;

const tlsTogether: Rule<Parsed> = ({ tlsKey, tlsCert, tlsCa }) => {
  if (!tlsKey && !tlsCert) {
    return tlsCa ? { field: 'tlsCa', message: 'only meaningful with TLS_KEY and TLS_CERT' } : undefined;
  }
  if (!tlsKey) return { field: 'tlsKey', message: 'required with TLS_CERT' };
  if (!tlsCert) return { field: 'tlsCert', message: 'required with TLS_KEY' };
  return undefined;
};

// Node refuses to start a server whose header timeout outlasts the whole request's.
const headersWithinRequest: Rule<Parsed> = ({ headersTimeout, requestTimeout }) =>
  headersTimeout > requestTimeout
    ? { field: 'headersTimeout', message: `must not exceed MICROCHATTER_REQUEST_TIMEOUT=${requestTimeout}` }
    : undefined;

function withTls({ tlsKey, tlsCert, tlsCa, ...rest }: Parsed) {
  const tls: TlsFiles | undefined =
    tlsKey && tlsCert ? { keyPath: tlsKey, certPath: tlsCert, caPath: tlsCa } : undefined;
  return { ...rest, tls };
}

export const server = group({
  title: 'HTTP server',
  settings,
  schema: (cwd) => settingsObject(settings, cwd, [tlsTogether, headersWithinRequest]).transform(withTls),
});
