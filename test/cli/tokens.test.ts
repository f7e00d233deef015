/** token and admin-token: credentials the server, started with the same settings, accepts. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeJwt, jwtVerify } from 'jose';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freshDatabase } from '../helpers/db.ts';
import { startServerProcess } from '../helpers/server-process.ts';
import { freshDataDir, runCli } from './run-cli.ts';

const test = suite('cli: tokens');

test('with generated secrets: the token and the admin token work against a server on the same data directory', async () => {
  const db = await freshDatabase();
  const env = { DATABASE_URL: db.url, MICROCHATTER_DATA_DIR: await freshDataDir() };
  const server = await startServerProcess(db, env);
  try {
    assert.is((await runCli(['create-user', 'ann'], env)).code, 0);
    const issued = await runCli(['token', 'ann', '--ttl', '90s'], env);
    assert.is(issued.code, 0, issued.stderr);
    const token = issued.stdout.trim();
    const claims = decodeJwt(token);
    assert.is(claims.sub, 'ann');
    assert.is((claims.exp ?? 0) - (claims.iat ?? 0), 90);
    assert.match(issued.stderr, 'valid until');

    const me = await fetch(`${server.url}/rpc/me`, { headers: { authorization: `Bearer ${token}` } });
    assert.is(me.status, 200);
    assert.is(((await me.json()) as { user_id: string }).user_id, 'ann');

    const admin = await runCli(['admin-token'], env);
    assert.is(admin.code, 0, admin.stderr);
    const adminToken = admin.stdout.trim();
    assert.is(
      adminToken,
      (await readFile(path.join(env.MICROCHATTER_DATA_DIR, 'admin-token'), 'utf8')).trim(),
    );
    const created = await fetch(`${server.url}/admin/rpc/create_user`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: 'ben' }),
    });
    assert.is(created.status, 200);
  } finally {
    assert.is(await server.stop(), 0, server.output());
    await db.drop();
  }
});

test('with a configured secret: the token verifies against it; an unknown user gets none', async () => {
  const db = await freshDatabase();
  const secret = 'a-configured-secret-of-at-least-32-characters';
  const env = {
    DATABASE_URL: db.url,
    MICROCHATTER_DATA_DIR: await freshDataDir(),
    MICROCHATTER_JWT_SECRET: secret,
  };
  try {
    await db.sql`select chat_admin.create_user('cy')`;
    const issued = await runCli(['token', 'cy', '--ttl', '2h'], env);
    assert.is(issued.code, 0, issued.stderr);
    const { payload } = await jwtVerify(issued.stdout.trim(), new TextEncoder().encode(secret), {
      issuer: 'microchatter',
    });
    assert.is(payload.sub, 'cy');
    assert.is((payload.exp ?? 0) - (payload.iat ?? 0), 7200);

    const unknown = await runCli(['token', 'nobody'], env);
    assert.is(unknown.code, 1);
    assert.is(unknown.stdout, '');
    assert.match(unknown.stderr, /^microchatter: .*\(MCUNU\)$/m);

    const tooLong = await runCli(['token', 'cy', '--ttl', '90d'], env);
    assert.is(tooLong.code, 1);
    assert.match(tooLong.stderr, /\(MCARG\)/);
  } finally {
    await db.drop();
  }
});

test.run();
