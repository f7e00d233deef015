/**
 * Where a setting's text comes from: the environment, else the JSON file named by MICROCHATTER_CONFIG,
 * else its default. The environment wins so a deployment can keep values in a file and override one
 * at launch.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SettingDoc } from './define.ts';

export type RawSettings = Readonly<Record<string, string | undefined>>;

export const configFile = {
  env: 'MICROCHATTER_CONFIG',
  doc: 'path of a JSON settings file holding any of these settings by name (the environment wins)',
} satisfies SettingDoc;

/** Reads the JSON settings file; unknown keys are refused so a typo does not pass silently. */
function readConfigFile(file: string, cwd: string, known: readonly string[]): RawSettings {
  const absolute = path.resolve(cwd, file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(absolute, 'utf8'));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Invalid setting ${configFile.env}: cannot read ${absolute}: ${reason}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`Invalid setting ${configFile.env}: ${absolute} must hold a JSON object`);
  }
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!known.includes(key)) {
      throw new Error(`Unknown setting ${key} in ${absolute} (known: ${known.join(', ')})`);
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new Error(`Invalid setting ${key} in ${absolute}: expected a string, number or boolean`);
    }
    values[key] = String(value);
  }
  return values;
}

/** Returns the text of a setting after layering environment, file and default; undefined: unset. */
export function settingReader(
  env: RawSettings,
  cwd: string,
  known: readonly string[],
): (setting: SettingDoc) => string | undefined {
  const file = env[configFile.env];
  const fromFile = file ? readConfigFile(file, cwd, known) : {};
  // An empty variable counts as unset, as shells and compose files often export NAME= to clear it.
  return (setting) => env[setting.env] || fromFile[setting.env] || setting.default;
}
