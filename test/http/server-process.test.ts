/**
 * The real thing: `server/main.ts` as a process, over real HTTP and HTTPS, stopped by SIGTERM; the
 * walkthrough of docs/api.md end to end.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { version } from '../../server/version.ts';
import { freshDatabase } from '../helpers/db.ts';
import { startServerProcess as startServer } from '../helpers/server-process.ts';

const test = suite('http: the server process');
test('end to end: admin creates a user, the user logs in with a password and chats; SIGTERM exits 0', async () => {
  const db = await freshDatabase();
  await db.sql.end();
  const observer = postgres(db.url, { max: 1, onnotice: () => {} });
  const server = await startServer(db);
  try {
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(await health.json(), { status: 'ok', version });
    // No secrets configured: they were generated into the data directory, and not printed.
    const adminToken = (await readFile(path.join(server.dataDir, 'admin-token'), 'utf8')).trim();
    assert.not.match(server.output(), adminToken);

    const admin = (name: string, body: unknown) =>
      fetch(`${server.url}/admin/rpc/${name}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    assert.is((await admin('create_user', { user_id: 'ann', password: 'ann-password' })).status, 200);
    assert.is((await admin('create_user', { user_id: 'ben' })).status, 200);

    const login = await fetch(`${server.url}/auth/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('ann:ann-password').toString('base64')}` },
    });
    assert.is(login.status, 200);
    const { token } = (await login.json()) as { token: string };
    const sent = await fetch(`${server.url}/rpc/send_message`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ recipient: 'ben', body: 'over real HTTP' }),
    });
    assert.is(sent.status, 200);
    const issued = await admin('issue_token', { user_id: 'ben' });
    const benToken = ((await issued.json()) as { token: string }).token;
    const inbox = await fetch(`${server.url}/rpc/list_conversations`, {
      headers: { authorization: `Bearer ${benToken}` },
    });
    const [conversation] = (await inbox.json()) as { unread: number; last_message: { body: string } }[];
    assert.is(conversation?.unread, 1);
    assert.is(conversation?.last_message.body, 'over real HTTP');
    assert.not.match(server.output(), token);

    // A send by conversation goes through group commit, on a connection of the send path's own; the
    // relay reads on one of its own. SIGTERM closes them all.
    const reply = await fetch(`${server.url}/rpc/send_message`, {
      method: 'POST',
      headers: { authorization: `Bearer ${benToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        conversation_id: (conversation as { conversation_id?: number }).conversation_id,
        body: 'back',
      }),
    });
    assert.is(reply.status, 200);
    const names = await observer<{ name: string }[]>`
      select distinct application_name as name from pg_stat_activity
      where datname = current_database() and application_name like 'microchatter%'
        and application_name not like 'microchatter-worker-%' order by 1`;
    assert.equal(
      names.map((row) => row.name),
      ['microchatter', 'microchatter-jobs', 'microchatter-relay', 'microchatter-sends'],
    );
  } finally {
    assert.is(await server.stop(), 0, server.output());
    const [left] = await observer<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity
      where datname = current_database() and application_name like 'microchatter%'`;
    assert.is(left?.n, 0, 'no connection outlives the process');
    await observer.end();
    await db.drop();
  }
});

test('TLS_KEY and TLS_CERT make the server speak HTTPS', async () => {
  const db = await freshDatabase();
  await db.sql.end();
  const dir = await mkdtemp(path.join(tmpdir(), 'mc-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  const server = await startServer(db, { TLS_KEY: key, TLS_CERT: cert });
  try {
    assert.match(server.url, /^https:\/\//);
    const https = await import('node:https');
    const ca = await readFile(cert);
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get(`${server.url}/healthz`, { ca }, (response) => {
          let text = '';
          response.on('data', (chunk) => (text += chunk));
          response.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
    assert.equal(JSON.parse(body), { status: 'ok', version });
    // Plain HTTP to the HTTPS port gets nothing useful.
    await fetch(`${server.url.replace('https:', 'http:')}/healthz`).then(
      (response) => assert.is.not(response.status, 200),
      () => undefined,
    );
  } finally {
    assert.is(await server.stop(), 0, server.output());
    await db.drop();
  }
});

/**
 * A preload that makes a rejection no code handles, on a signal: SIGUSR2 a connection failure of the
 * database client's kind (ECONNREFUSED), SIGHUP any other error. NODE_OPTIONS splits on spaces:
 * the module's spaces are %20.
 */
const REJECTS_ON_SIGNAL =
  "--import=data:text/javascript,process.on('SIGUSR2',()=>{Promise.reject(Object.assign(Error('connect%20ECONNREFUSED%20127.0.0.1:1'),{code:'ECONNREFUSED'}))});process.on('SIGHUP',()=>{Promise.reject(TypeError('a%20bug'))})";

test('a lost connection nobody awaited is logged and the server goes on; any other unhandled rejection ends it', async () => {
  const db = await freshDatabase();
  await db.sql.end();
  const server = await startServer(db, { NODE_OPTIONS: REJECTS_ON_SIGNAL });
  try {
    server.child.kill('SIGUSR2');
    const deadline = Date.now() + 5000;
    while (!server.output().includes('carrying on') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.match(server.output(), 'a database connection failed outside any request; carrying on');
    assert.is((await fetch(`${server.url}/healthz`)).status, 200, 'still serving');

    const exited = new Promise<number | null>((resolve) => server.child.once('exit', resolve));
    server.child.kill('SIGHUP');
    assert.is.not(await exited, 0, 'a rejection that is not a lost connection still ends the process');
    assert.match(server.output(), 'a bug');
  } finally {
    await server.stop();
    await db.drop();
  }
});

test.run();
