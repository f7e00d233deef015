/** Settings of the PostgreSQL connection: the site's own server, or the embedded one. */
import path from 'node:path';
import { z } from 'zod';
import { group, type Settings, settingsObject } from './define.ts';
import { boolean, integer, nonEmpty, parsedUrl, port } from './kinds.ts';

const databaseUrl = z.string().transform((value, ctx) => {
  const url = parsedUrl(value, ctx, 'not a URL (expected postgres://user:password@host:port/database)');
  if (!url) return z.NEVER;
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    ctx.addIssue(`expected a postgres:// or postgresql:// URL, got ${url.protocol}//…`);
    return z.NEVER;
  }
  if (url.pathname.length <= 1) {
    ctx.addIssue('the URL must name a database (…/database)');
    return z.NEVER;
  }
  return value;
});

const settings = {
  databaseUrl: {
    env: 'DATABASE_URL',
    doc: 'PostgreSQL to use; absent: embedded PostgreSQL',
    schema: databaseUrl,
    // The URL usually carries the password.
    secret: true,
  },
  dataDir: {
    env: 'MICROCHATTER_DATA_DIR',
    default: './.microchatter',
    doc: 'where the embedded PostgreSQL keeps its data, and generated secrets',
    schema: (cwd: string) => nonEmpty.transform((value) => path.resolve(cwd, value)),
  },
  embeddedPgPort: {
    env: 'MICROCHATTER_EMBEDDED_PG_PORT',
    default: '54329',
    doc: 'port of the embedded PostgreSQL (127.0.0.1 only)',
    schema: port,
  },
  // Off when the server connects as a least-privilege role and the owner migrates separately.
  migrate: {
    env: 'MICROCHATTER_MIGRATE',
    default: 'true',
    doc: 'apply migrations at start; `false` when the owner migrates separately',
    schema: boolean,
  },
  dbPoolMax: {
    env: 'MICROCHATTER_DB_POOL_MAX',
    default: '10',
    doc: "connections in the server's pool to PostgreSQL (1 to 1000); sends take up to 2 more of their own, the relay's reads 1",
    schema: integer(1, 1000, 'connections'),
  },
  // Off only to compare: concurrent sends into one conversation then queue on its row lock, a commit
  // flush each (bench/http.ts measures both).
  groupCommit: {
    env: 'MICROCHATTER_GROUP_COMMIT',
    default: 'true',
    doc: 'concurrent sends into one conversation commit together, in one transaction (docs/scaling.md)',
    schema: boolean,
  },
  // The trade is in docs/sql-api.md ("Durability of sends"): never the default.
  sendSynchronousCommit: {
    env: 'MICROCHATTER_SEND_SYNCHRONOUS_COMMIT',
    default: 'true',
    doc: '`false`: sends answer before their commit reaches disk (faster under load; a database crash can lose the last ~600 ms of acknowledged sends)',
    schema: boolean,
  },
} satisfies Settings;

export const database = group({
  title: 'Database',
  settings,
  schema: (cwd) => settingsObject(settings, cwd),
});
