/**
 * Answers given before the body is read (413, 401, 415) leave the connection usable: a pooled client's
 * next request on the same socket succeeds, or the server said Connection: close before closing.
 */

import { Readable } from 'node:stream';
import { Pool } from 'undici';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type RunningServer, startHttpServer } from '../../server/http-server.ts';
import { type TestApp, testApp } from '../helpers/http.ts';

const test = suite('http: early answers keep the connection usable');
let t: TestApp;
let server: RunningServer;

test.before(async () => {
  t = await testApp();
  server = await startHttpServer(t.app, {
    host: '127.0.0.1',
    port: 0,
    tls: undefined,
    headersTimeout: 5000,
    requestTimeout: 10000,
  });
});
test.after(async () => {
  await server.close();
  await t.close();
});

/** One keep-alive connection: every request after the first reuses the socket, if the server left it open. */
async function afterEarlyAnswer(early: {
  path: string;
  headers: Record<string, string>;
  body: Buffer | string;
  status: number;
}): Promise<void> {
  const pool = new Pool(server.url, { connections: 1, pipelining: 1 });
  try {
    for (let round = 0; round < 3; round++) {
      const answer = await pool.request({
        method: 'POST',
        path: early.path,
        headers: early.headers,
        body: early.body,
      });
      assert.is(answer.statusCode, early.status, `${early.path} round ${round}`);
      await answer.body.text();
      const health = await pool.request({ method: 'GET', path: '/healthz' });
      assert.is(health.statusCode, 200);
      await health.body.text();
    }
  } finally {
    await pool.close();
  }
}

const json = { 'content-type': 'application/json' };
const big = Buffer.alloc(1024 * 1024, 'a');

test('413 for a 1 MB body with Content-Length', async () => {
  const token = await t.tokenFor('early-1');
  await afterEarlyAnswer({
    path: '/rpc/me',
    headers: { ...json, authorization: `Bearer ${token}`, 'content-length': String(big.length) },
    body: big,
    status: 413,
  });
});

test('413 for a 1 MB chunked body', async () => {
  const token = await t.tokenFor('early-2');
  async function* chunks() {
    for (let i = 0; i < 16; i++) yield big.subarray(i * 65536, (i + 1) * 65536);
  }
  const pool = new Pool(server.url, { connections: 1 });
  try {
    for (let round = 0; round < 3; round++) {
      const answer = await pool.request({
        method: 'POST',
        path: '/rpc/me',
        headers: { ...json, authorization: `Bearer ${token}` },
        body: Readable.from(chunks()),
      });
      assert.is(answer.statusCode, 413);
      await answer.body.text();
      const health = await pool.request({ method: 'GET', path: '/healthz' });
      assert.is(health.statusCode, 200);
      await health.body.text();
    }
  } finally {
    await pool.close();
  }
});

test('a body too large to discard is answered 413 with Connection: close, and the pool reconnects', async () => {
  const token = await t.tokenFor('early-4');
  const huge = Buffer.alloc(12 * 1024 * 1024, 'a');
  const pool = new Pool(server.url, { connections: 1 });
  try {
    const answer = await pool.request({
      method: 'POST',
      path: '/rpc/me',
      headers: { ...json, authorization: `Bearer ${token}`, 'content-length': String(huge.length) },
      body: huge,
    });
    assert.is(answer.statusCode, 413);
    assert.is(answer.headers.connection, 'close');
    await answer.body.text();
    const health = await pool.request({ method: 'GET', path: '/healthz' });
    assert.is(health.statusCode, 200);
    await health.body.text();
  } finally {
    await pool.close();
  }
});

test('401 before the body is read', async () => {
  await afterEarlyAnswer({
    path: '/rpc/send_message',
    headers: json,
    body: JSON.stringify({ recipient: 'x', body: 'y'.repeat(30000) }),
    status: 401,
  });
});

test('415 for a body that is not JSON', async () => {
  const token = await t.tokenFor('early-3');
  await afterEarlyAnswer({
    path: '/rpc/me',
    headers: { 'content-type': 'text/plain', authorization: `Bearer ${token}` },
    body: 'x'.repeat(40000),
    status: 415,
  });
});

test.run();
