/**
 * `npm run client:types`: writes client/src/generated/api.ts from the catalog of a migrated database.
 * With DATABASE_URL, that database (already migrated) is read; without, a throw-away embedded
 * PostgreSQL is started and the committed migrations applied to it, as `npm test` does.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCatalog } from '../../server/catalog.ts';
import { connectDatabase, type Sql } from '../../server/db.ts';
import { startEmbeddedPostgres } from '../../server/embedded.ts';
import { statusByCode } from '../../server/errors.ts';
import { applyMigrations } from '../../server/migrate.ts';
import { renderApi } from './render-api.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const GENERATED_FILE = path.join(root, 'client/src/generated/api.ts');

/** Formats as `npm run lint` wants it, so the committed file passes lint as generated. */
function formatted(text: string): string {
  const biome = path.join(root, 'node_modules/.bin/biome');
  const result = spawnSync(biome, ['format', `--stdin-file-path=${GENERATED_FILE}`], {
    cwd: root,
    input: text,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`biome format failed: ${result.stderr || result.stdout}`);
  return result.stdout;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

/** The text of client/src/generated/api.ts for the database behind `sql`. */
export async function generatedApi(sql: Sql): Promise<string> {
  return formatted(renderApi(await loadCatalog(sql), statusByCode));
}

async function main(): Promise<void> {
  let url = process.env.DATABASE_URL;
  let stop = async () => {};
  if (!url) {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'mc-client-types-'));
    const embedded = await startEmbeddedPostgres({ dataDir, port: await freePort(), unsafeFastWrites: true });
    url = embedded.url;
    await applyMigrations(url);
    stop = async () => {
      await embedded.stop();
      await rm(dataDir, { recursive: true, force: true });
    };
  }
  const sql = connectDatabase(url, { max: 1 });
  try {
    await writeFile(GENERATED_FILE, await generatedApi(sql));
    console.log(`wrote ${path.relative(root, GENERATED_FILE)}`);
  } finally {
    await sql.end({ timeout: 5 });
    await stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
