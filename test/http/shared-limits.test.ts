/**
 * The send rate limit and the login-failure throttle hold across server processes: two real
 * processes on one database allow together what one allows, not twice as much.
 */
import { SignJWT } from 'jose';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { type ServerProcess, startServerProcess } from '../helpers/server-process.ts';

const test = suite('http: limits shared by server processes');
const SECRET = 'shared-limits-secret-0123456789abcdef';
let db: TestDatabase;
let servers: ServerProcess[] = [];

test.before(async () => {
  db = await freshDatabase();
  await db.sql`select chat_admin.create_user('sender')`;
  await db.sql`select chat_admin.create_user('reader')`;
  await db.sql`select chat_admin.create_user('guarded', password => 'the right one')`;
  const env = {
    MICROCHATTER_JWT_SECRET: SECRET,
    MICROCHATTER_SEND_RATE_PER_MINUTE: '4',
    MICROCHATTER_LOGIN_MAX_FAILURES: '3',
    MICROCHATTER_LOGIN_FAILURE_WINDOW: '600',
  };
  servers = await Promise.all([startServerProcess(db, env), startServerProcess(db, env)]);
});
test.after(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await db.drop();
});

const tokenFor = (userId: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(SECRET));

test('sends alternating between two processes meet one limit', async () => {
  const token = await tokenFor('sender');
  const send = (server: ServerProcess, body: string) =>
    fetch(`${server.url}/rpc/send_message`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ recipient: 'reader', body }),
    });
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const response = await send(servers[i % 2] as ServerProcess, `message ${i}`);
    statuses.push(response.status);
    if (response.status === 429) {
      assert.ok(Number(response.headers.get('retry-after')) >= 1);
      assert.is(((await response.json()) as { error: { code: string } }).error.code, 'MCRAT');
    } else await response.arrayBuffer();
  }
  assert.equal(statuses, [200, 200, 200, 200, 429, 429]);
  const [{ count }] = await db.sql`select count(*)::int from chat_private.messages where sender = 'sender'`;
  assert.is(count, 4);
});

test('login failures counted by one process slow down logins on the other', async () => {
  const login = (server: ServerProcess, password: string) =>
    fetch(`${server.url}/auth/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`guarded:${password}`).toString('base64')}` },
    });
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const response = await login(servers[i % 2] as ServerProcess, `guess ${i}`);
    statuses.push(response.status);
    await response.arrayBuffer();
  }
  assert.equal(statuses, [401, 401, 401, 429]);
  const right = await login(servers[0] as ServerProcess, 'the right one');
  assert.is(right.status, 429, 'even the right password waits');
  assert.ok(Number(right.headers.get('retry-after')) >= 1);
});

test.run();
