/**
 * `node --import tsx bench/webhook-post.ts`: the CPU one webhook POST costs the poster, through undici
 * (what server/webhooks/post.ts uses) against node:http's client with a keep-alive agent (what it used
 * before), in one process, alternating rounds. 16 streams post one after the other, as the
 * deliver_webhooks job does, a body of a typical message.created event, to a receiver in a child
 * process on 127.0.0.1 that answers 204; then server/webhooks/post.ts's postWebhook (undici with the
 * job's deadline and checks), and postWebhook with each body signed first by the job's own
 * signedRequest, as the job does a delivery. Prints µs of this process's CPU per POST and POSTs/s.
 * One run (3 December): undici 39–61, postWebhook 42–61, signed 63–81 µs: the wrapper costs under
 * 10 µs, the signature about 20 (then `standardwebhooks`' pure-JavaScript SHA-256; node:crypto since).
 * Not a part of `npm run bench` (no target): it measures the client alone, which bench/webhooks.ts
 * cannot separate from everything else sharing the machine.
 */
import { fork } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { signedRequest, signingKey } from '../server/jobs/deliver_webhooks.ts';
import { postWebhook } from '../server/webhooks/post.ts';

const STREAMS = 16;
const POSTS = 16_000;
const ROUNDS = 3;

if (process.argv[2] === 'receiver') {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.statusCode = 204;
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send?.((server.address() as AddressInfo).port));
} else {
  const receiver = fork(fileURLToPath(import.meta.url), ['receiver'], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((resolve) => receiver.once('message', (m) => resolve(Number(m))));
  const origin = `http://127.0.0.1:${port}`;
  const event = {
    type: 'message.created',
    timestamp: new Date().toISOString(),
    data: { conversation_id: 1, message: { seq: 1, sender: 'ann', body: 'x'.repeat(300) } },
  };
  const body = JSON.stringify(event);
  const headers = {
    'webhook-id': 'msg_1',
    'webhook-timestamp': '1',
    'webhook-signature': 'v1,c2lnbmF0dXJl',
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'user-agent': 'Microchatter-Webhooks',
  };
  // Both clients resolve through a lookup function, as post.ts does (it refuses private addresses).
  const lookup: LookupFunction = (_host, options, callback) =>
    options.all
      ? (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [
          { address: '127.0.0.1', family: 4 },
        ])
      : callback(null, '127.0.0.1', 4);

  const nodeAgent = new http.Agent({ keepAlive: true, maxSockets: 32, maxFreeSockets: 32, timeout: 30_000 });
  const nodePost = () =>
    new Promise<void>((resolve, reject) => {
      const request = http.request(
        new URL(`${origin}/hooks`),
        { method: 'POST', headers, agent: nodeAgent, lookup, signal: new AbortController().signal },
        (response) => {
          response.on('data', () => {});
          response.on('end', () => resolve());
        },
      );
      const timer = setTimeout(() => request.destroy(), 5_000);
      request.on('close', () => clearTimeout(timer));
      request.on('error', reject);
      request.end(body);
    });
  const undiciAgent = new Agent({ connections: 32, keepAliveTimeout: 30_000, connect: { lookup } });
  const undiciPost = async () => {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), 5_000);
    const response = await undiciAgent.request({
      origin,
      path: '/hooks',
      method: 'POST',
      headers,
      body,
      signal: deadline.signal,
    });
    for await (const _ of response.body) {
      // read to the end, so the connection is reused
    }
    clearTimeout(timer);
  };

  // What the job does for each delivery: server/webhooks/post.ts's postWebhook around undici, and with
  // the Standard Webhooks signature of each body made first.
  const jobSignal = new AbortController().signal;
  setMaxListeners(STREAMS + 1, jobSignal); // as the job does: each stream in flight listens on it
  const options = { headers, timeoutMs: 5_000, allowPrivate: true, signal: jobSignal };
  const ours = async () => {
    const result = await postWebhook(`${origin}/hooks`, body, options);
    if (!result.ok) throw new Error(result.error);
  };
  const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
  const key = signingKey(secret);
  // The same event as a row of the log: signedRequest builds the same body, and signs it.
  const delivery = {
    delivery_id: null,
    event_position: 1,
    stream: 'c:1',
    url: `${origin}/hooks`,
    secret,
    event_type: event.type,
    payload: JSON.stringify(event.data),
    occurred_at: event.timestamp,
  };
  const signedOurs = async () => {
    const signed = signedRequest(delivery, new Date(), key);
    const result = await postWebhook(delivery.url, signed.body, { ...options, headers: signed.headers });
    if (!result.ok) throw new Error(result.error);
  };

  const round = async (post: () => Promise<void>, posts: number) => {
    const cpu = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: STREAMS }, async () => {
        for (let i = 0; i < posts / STREAMS; i++) await post();
      }),
    );
    const used = process.cpuUsage(cpu);
    return {
      cpuUs: (used.user + used.system) / posts,
      perSecond: posts / ((performance.now() - started) / 1000),
    };
  };
  await round(nodePost, 2_000);
  await round(undiciPost, 2_000);
  await round(ours, 2_000);
  await round(signedOurs, 2_000);
  console.log(`bench:webhook-post: ${STREAMS} streams, ${POSTS} POSTs a round, Node ${process.version}`);
  for (let r = 0; r < ROUNDS; r++) {
    const before = await round(nodePost, POSTS);
    const now = await round(undiciPost, POSTS);
    const wrapped = await round(ours, POSTS);
    const signed = await round(signedOurs, POSTS);
    console.log(
      `  round ${r + 1}: node:http ${before.cpuUs.toFixed(0)} µs of CPU a POST (${before.perSecond.toFixed(0)}/s); ` +
        `undici ${now.cpuUs.toFixed(0)} µs (${now.perSecond.toFixed(0)}/s); ` +
        `postWebhook ${wrapped.cpuUs.toFixed(0)} µs (${wrapped.perSecond.toFixed(0)}/s); ` +
        `signed and postWebhook ${signed.cpuUs.toFixed(0)} µs (${signed.perSecond.toFixed(0)}/s)`,
    );
  }
  receiver.kill();
  await nodeAgent.destroy();
  await undiciAgent.close();
}
