/**
 * Server settings, read from the environment (or a JSON file named by MICROCHATTER_CONFIG; the
 * environment wins). Every setting is declared once, in its group under server/config/: adding one
 * there adds it to `Config`, to parsing, and (after `npm run config:docs`) to the README and .env.example.
 */
import type { z } from 'zod';
import type { Group, Setting } from './config/define.ts';
import {
  auth,
  database,
  integrations,
  limits,
  observability,
  realtime,
  server,
  settingGroups,
} from './config/groups.ts';
import { type RawSettings, settingReader } from './config/sources.ts';

export { type PublicKeyAlgorithm, publicKeyAlgorithms } from './config/auth.ts';
export { type LogLevel, logLevels } from './config/observability.ts';
export type { TlsFiles } from './config/server.ts';

type Read = (setting: Setting) => string | undefined;

// A long value (PEM text) would bury the message; a secret must never reach a log.
function shownValue(setting: Setting, value: string | undefined): string {
  if (setting.secret || value === undefined || value.length > 100 || value.includes('\n')) return '';
  return `=${JSON.stringify(value)}`;
}

function describe(issue: z.core.$ZodIssue, group: Group<unknown>, read: Read): string {
  const setting = group.settings[String(issue.path[0])];
  if (!setting) return `Invalid settings: ${issue.message}`;
  return `Invalid setting ${setting.env}${shownValue(setting, read(setting))}: ${issue.message}`;
}

/** Parses one group; throws one line per invalid setting in it. */
function parseGroup<Out>(group: Group<Out>, read: Read, cwd: string): Out {
  const raw = Object.fromEntries(
    Object.entries(group.settings).map(([field, setting]) => [field, read(setting)]),
  );
  const result = group.schema(cwd).safeParse(raw);
  if (result.success) return result.data;
  throw new Error(result.error.issues.map((issue) => describe(issue, group, read)).join('\n'));
}

function parseAll(read: Read, cwd: string) {
  return {
    ...parseGroup(server, read, cwd),
    ...parseGroup(database, read, cwd),
    ...parseGroup(auth, read, cwd),
    ...parseGroup(limits, read, cwd),
    ...parseGroup(realtime, read, cwd),
    ...parseGroup(integrations, read, cwd),
    ...parseGroup(observability, read, cwd),
  };
}

/** Every setting's value; what each field means is the `doc` of its declaration. */
export type Config = ReturnType<typeof parseAll>;

/** Throws an Error naming the offending setting when a value is invalid. */
export function loadConfig(env: RawSettings = process.env, cwd: string = process.cwd()): Config {
  const known = settingGroups.flatMap((group) => Object.values(group.settings).map((setting) => setting.env));
  return parseAll(settingReader(env, cwd, known), cwd);
}
