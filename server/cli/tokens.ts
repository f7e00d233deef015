/**
 * `token <user>` and `admin-token`: the credentials a server with the same configuration accepts,
 * minted by the server's own code (createAuth, loadSecrets), so they cannot drift from what it checks.
 */
import { createAuth } from '../auth.ts';
import type { Config } from '../config.ts';
import type { Sql } from '../db.ts';
import { loadSecrets } from '../secrets.ts';

/** Notes such as "using the generated MICROCHATTER_JWT_SECRET in …" go to stderr; stdout is the credential. */
const note = (line: string) => console.error(line);

const DURATION = /^(\d+)(s|m|h|d)?$/;
const SECONDS_PER_UNIT = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** "3600", "90m", "12h", "7d" → seconds. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match?.[1])
    throw new Error(`--ttl ${JSON.stringify(text)}: expected seconds, or a number with s, m, h or d`);
  const unit = (match[2] ?? 's') as keyof typeof SECONDS_PER_UNIT;
  return Number(match[1]) * SECONDS_PER_UNIT[unit];
}

export async function mintUserToken(
  config: Config,
  sql: Sql,
  userId: string,
  ttlSeconds: number | undefined,
): Promise<{ token: string; expires_at: string }> {
  const auth = await createAuth(config, sql, { log: note });
  try {
    // As POST /admin/rpc/issue_token does: a token for a user who does not exist is refused (MCUNU).
    await sql`select 1 from chat.me(${userId})`;
    return await auth.issueToken(userId, ttlSeconds);
  } finally {
    auth.close();
  }
}

export async function adminToken(config: Config): Promise<string> {
  return (await loadSecrets(config, note)).adminToken;
}
