/**
 * No JWT secret or admin token configured: both are generated once into the data directory (mode 0600),
 * reused by the next start, and only their location is ever printed.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createAuth } from '../../server/auth.ts';
import { loadConfig } from '../../server/config.ts';
import { ADMIN_TOKEN_FILE, JWT_SECRET_FILE } from '../../server/secrets.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { identity } from '../helpers/principal.ts';

let db: TestDatabase;
let root: string;

test.before(async () => {
  db = await freshDatabase();
  root = await mkdtemp(path.join(tmpdir(), 'microchatter-secrets-'));
  await db.sql`select chat_admin.create_user('carol', 'Carol')`;
});

test.after(async () => {
  await db.drop();
  await rm(root, { recursive: true, force: true });
});

const bearer = (token: string) =>
  new Request('http://microchatter.test/', { headers: { authorization: `Bearer ${token}` } });

test('secrets are generated once into the data dir (0600), printed by path only, and reused', async () => {
  const dataDir = path.join(root, 'first', 'nested');
  const config = loadConfig({ MICROCHATTER_DATA_DIR: dataDir });
  const firstLog: string[] = [];
  const first = await createAuth(config, db.sql, { log: (line) => firstLog.push(line) });

  const secret = (await readFile(path.join(dataDir, JWT_SECRET_FILE), 'utf8')).trim();
  const adminToken = (await readFile(path.join(dataDir, ADMIN_TOKEN_FILE), 'utf8')).trim();
  assert.ok(secret.length >= 32 && adminToken.length >= 32);
  assert.is.not(secret, adminToken);
  for (const file of [JWT_SECRET_FILE, ADMIN_TOKEN_FILE]) {
    assert.is((await stat(path.join(dataDir, file))).mode & 0o777, 0o600, file);
  }
  assert.is(firstLog.length, 1);
  assert.match(firstLog[0] ?? '', dataDir);
  assert.not.ok(firstLog.join('\n').includes(secret), 'the JWT secret was printed');
  assert.not.ok(firstLog.join('\n').includes(adminToken), 'the admin token was printed');

  assert.equal(await first.authenticate(bearer(adminToken), '1.2.3.4'), { kind: 'admin' });
  const { token } = await first.issueToken('carol');

  // The next start (another process, the same data dir) reuses both: old tokens stay valid.
  const secondLog: string[] = [];
  const second = await createAuth(config, db.sql, { log: (line) => secondLog.push(line) });
  assert.is((await readFile(path.join(dataDir, JWT_SECRET_FILE), 'utf8')).trim(), secret);
  assert.equal(identity(await second.authenticate(bearer(token), '1.2.3.4')), {
    kind: 'user',
    userId: 'carol',
  });
  assert.equal(await second.authenticate(bearer(adminToken), '1.2.3.4'), { kind: 'admin' });
  assert.is(secondLog.length, 1);
  assert.not.ok(secondLog.join('\n').includes(secret) || secondLog.join('\n').includes(adminToken));
  first.close();
  second.close();
});

test('configured secrets win: nothing is written, nothing printed', async () => {
  const dataDir = path.join(root, 'configured');
  const log: string[] = [];
  const auth = await createAuth(
    loadConfig({
      MICROCHATTER_DATA_DIR: dataDir,
      MICROCHATTER_JWT_SECRET: 'configured-secret-0123456789abcdefghij',
      MICROCHATTER_ADMIN_TOKEN: 'configured-admin-0123456789abcdefghij',
    }),
    db.sql,
    { log: (line) => log.push(line) },
  );
  assert.equal(log, []);
  await stat(dataDir).then(
    () => assert.unreachable('the data dir was created'),
    () => {},
  );
  assert.equal(await auth.authenticate(bearer('configured-admin-0123456789abcdefghij'), '1.2.3.4'), {
    kind: 'admin',
  });
  auth.close();
});

test('a generated secret file that was truncated stops the start with a message naming it', async () => {
  const dataDir = path.join(root, 'truncated');
  await createAuth(loadConfig({ MICROCHATTER_DATA_DIR: dataDir }), db.sql, { log: () => {} });
  await writeFile(path.join(dataDir, JWT_SECRET_FILE), 'short\n');
  try {
    await createAuth(loadConfig({ MICROCHATTER_DATA_DIR: dataDir }), db.sql, { log: () => {} });
    assert.unreachable('a short secret was accepted');
  } catch (error) {
    assert.match(String(error), 'MICROCHATTER_JWT_SECRET');
    assert.not.match(String(error), 'short');
  }
});

test('concurrent first starts on one data dir agree on one secret', async () => {
  const dataDir = path.join(root, 'race');
  const config = loadConfig({ MICROCHATTER_DATA_DIR: dataDir });
  const auths = await Promise.all(
    Array.from({ length: 5 }, () => createAuth(config, db.sql, { log: () => {} })),
  );
  const { token } = await (auths[0] ?? assert.unreachable()).issueToken('carol');
  for (const auth of auths) {
    assert.equal(identity(await auth.authenticate(bearer(token), '1.2.3.4')), {
      kind: 'user',
      userId: 'carol',
    });
  }
});

test.run();
