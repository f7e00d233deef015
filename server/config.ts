/**
 * Server settings, read from the environment. A JSON file named by MICROCHATTER_CONFIG may supply
 * the same settings (keys are the environment variable names); the environment wins, so a deployment
 * can keep defaults in a file and override one value at launch.
 *
 * Every setting is declared once in `defaults` below: adding one means listing it there, parsing it in
 * `loadConfig`, adding a field to `Config`, and documenting it in the README.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

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

/** Every known setting and its default; the file reader refuses names not listed here. */
const defaults: Readonly<Record<string, string | undefined>> = {
  PORT: '8080',
  HOST: '127.0.0.1',
  DATABASE_URL: undefined,
  MICROCHATTER_DATA_DIR: './.microchatter',
  MICROCHATTER_EMBEDDED_PG_PORT: '54329',
  MICROCHATTER_MIGRATE: 'true',
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

  return {
    port: parsePort('PORT', required('PORT')),
    host: required('HOST'),
    databaseUrl: databaseUrl === undefined ? undefined : parseDatabaseUrl('DATABASE_URL', databaseUrl),
    dataDir: path.resolve(cwd, required('MICROCHATTER_DATA_DIR')),
    embeddedPgPort: parsePort('MICROCHATTER_EMBEDDED_PG_PORT', required('MICROCHATTER_EMBEDDED_PG_PORT')),
    migrate: parseBoolean('MICROCHATTER_MIGRATE', required('MICROCHATTER_MIGRATE')),
  };
}
