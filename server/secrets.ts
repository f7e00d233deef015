/**
 * The JWT secret and the admin token when the configuration names none: so that `npm start` works on a
 * first try, each is generated once into the data directory (mode 0600) and reused on every later start,
 * by every process sharing that directory. Only the file's path is ever printed, never its content.
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface Secrets {
  jwtSecret: string;
  adminToken: string;
}

interface SecretFile {
  setting: string;
  file: string;
  configured: string | undefined;
}

export const JWT_SECRET_FILE = 'jwt-secret';
export const ADMIN_TOKEN_FILE = 'admin-token';

function isCode(error: unknown, code: string): boolean {
  return (error as { code?: unknown } | null)?.code === code;
}

async function readSecret(setting: string, file: string): Promise<string> {
  const value = (await readFile(file, 'utf8')).trim();
  if (value.length < 32) {
    throw new Error(`${setting}: ${file} holds fewer than 32 characters; delete it to generate a new one`);
  }
  // Anyone who can read these can act as any user, or as admin.
  const { mode } = await stat(file);
  if ((mode & 0o077) !== 0) await chmod(file, 0o600);
  return value;
}

/** Reads the secret's file, or creates it; returns whether it was created. */
async function readOrCreate(setting: string, file: string): Promise<{ value: string; created: boolean }> {
  try {
    return { value: await readSecret(setting, file), created: false };
  } catch (error) {
    if (!isCode(error, 'ENOENT')) throw error;
  }
  const value = randomBytes(32).toString('base64url');
  // Written whole under a name of its own, then linked into place: when two processes start at once,
  // one link wins and the other reads the winner's file, never one still being written (as it could
  // with a file created empty and then written).
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
  await writeFile(temporary, `${value}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(temporary, file);
    return { value, created: true };
  } catch (error) {
    if (!isCode(error, 'EEXIST')) throw error;
    return { value: await readSecret(setting, file), created: false };
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

/** Configured values win; missing ones come from (or go to) files in `dataDir`. */
export async function loadSecrets(
  config: { jwtSecret: string | undefined; adminToken: string | undefined; dataDir: string },
  log: (line: string) => void = console.log,
): Promise<Secrets> {
  const wanted: SecretFile[] = [
    { setting: 'MICROCHATTER_JWT_SECRET', file: JWT_SECRET_FILE, configured: config.jwtSecret },
    { setting: 'MICROCHATTER_ADMIN_TOKEN', file: ADMIN_TOKEN_FILE, configured: config.adminToken },
  ];
  const missing = wanted.filter((secret) => secret.configured === undefined);
  if (missing.length > 0) await mkdir(config.dataDir, { recursive: true, mode: 0o700 });

  const values = new Map<string, string>();
  const created: string[] = [];
  const reused: string[] = [];
  for (const secret of wanted) {
    if (secret.configured !== undefined) {
      values.set(secret.setting, secret.configured);
      continue;
    }
    const file = path.join(config.dataDir, secret.file);
    const result = await readOrCreate(secret.setting, file);
    values.set(secret.setting, result.value);
    (result.created ? created : reused).push(`${secret.setting} in ${file}`);
  }
  const said = [
    created.length > 0 ? `generated ${created.join(' and ')} (mode 0600)` : '',
    reused.length > 0 ? `using the generated ${reused.join(' and ')}` : '',
  ].filter((part) => part !== '');
  if (said.length > 0) log(`Microchatter: ${said.join('; ')}`);

  const jwtSecret = values.get('MICROCHATTER_JWT_SECRET');
  const adminToken = values.get('MICROCHATTER_ADMIN_TOKEN');
  if (jwtSecret === undefined || adminToken === undefined)
    throw new Error('unreachable: a secret is missing');
  return { jwtSecret, adminToken };
}
