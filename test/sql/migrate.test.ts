/**
 * server/migrate.ts leans on two internal paths of graphile-migrate: an upgrade that moves them must
 * fail here, not at a deployment's first start. And migrating twice, or from two processes at once,
 * is a no-op.
 */
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { applyMigrations } from '../../server/migrate.ts';
import { freshDatabase } from '../helpers/db.ts';

const test = suite('sql: migrations at start-up');

test('graphile-migrate is pinned exactly, and the internals server/migrate.ts imports exist', async () => {
  const { dependencies } = JSON.parse(readFileSync('package.json', 'utf8')) as {
    dependencies: Record<string, string>;
  };
  assert.match(dependencies['graphile-migrate'] ?? '', /^\d+\.\d+\.\d+(-[\w.]+)?$/, 'an exact version');
  const common = await import('graphile-migrate/dist/commands/_common.js');
  const pg = await import('graphile-migrate/dist/pgReal.js');
  assert.type(common.getSettingsFromJSON, 'function');
  assert.type(pg.clearAllPools, 'function');
});

test('applying the committed migrations again, from two callers at once, changes nothing', async () => {
  const db = await freshDatabase({ max: 1 });
  try {
    const before = await db.sql`select filename, hash from graphile_migrate.migrations order by filename`;
    await Promise.all([applyMigrations(db.url), applyMigrations(db.url)]);
    const after = await db.sql`select filename, hash from graphile_migrate.migrations order by filename`;
    assert.equal(after, before);
    assert.ok(before.length >= 8);
  } finally {
    await db.drop();
  }
});

test.run();
