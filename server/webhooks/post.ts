/**
 * One webhook delivery attempt over HTTP: a POST that follows no redirect, gives up after the timeout
 * (connecting included), and reads at most 64 KiB of the answer. Targets are checked as they are
 * resolved, so a host name that points at a private address (or is re-pointed there later) is refused
 * like a private address written in the URL; the check and the connection use the same address.
 * Connections are kept alive and reused for the next deliveries to the same host (a new connection
 * per POST cost as much as the POST); a reused connection the receiver closed meanwhile is retried
 * once on a new one, which spends no attempt.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** The ranges chat_private.private_address refuses at create_webhook (functions/chat_private/webhooks.sql). */
const privateRanges = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const) {
  privateRanges.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 127],
  ['::ffff:0:0', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  privateRanges.addSubnet(network, prefix, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true; // not an address at all: refuse rather than guess
  return privateRanges.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** The largest part of an answer that is read; the rest is cut off. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export interface PostOptions {
  headers: Record<string, string>;
  timeoutMs: number;
  allowPrivate: boolean;
  /** Ends the attempt early (the worker shutting down); the delivery is then tried again later. */
  signal?: AbortSignal;
}

export type PostResult = { ok: true; status: number } | { ok: false; status: number | null; error: string };

class RefusedTarget extends Error {}

/**
 * Kept-alive connections, one pool per protocol and setting of allowPrivate (a connection made while
 * private addresses were allowed is never reused when they are not). Node's agent closes an idle
 * connection a second before the receiver's Keep-Alive timeout, when the receiver sends one.
 */
const agents = new Map<string, http.Agent>();
function agentFor(protocol: string, allowPrivate: boolean): http.Agent {
  const key = `${protocol}${allowPrivate}`;
  let agent = agents.get(key);
  if (!agent) {
    const options = { keepAlive: true, maxSockets: 32, maxFreeSockets: 32, timeout: 30_000 };
    agent = protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
    agents.set(key, agent);
  }
  return agent;
}

/** A resolver that refuses private addresses (all of a name's addresses must be public). */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const refused = allowPrivate ? undefined : addresses.find((a) => isPrivateAddress(a.address));
      if (refused) {
        return callback(new RefusedTarget(`${hostname} resolves to a private address`), '', 0);
      }
      if (options.all) return (callback as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new Error(`${hostname} has no address`), '', 0);
      callback(null, first.address, first.family);
    });
  };
}

function describe(error: unknown): string {
  if (error instanceof RefusedTarget) return error.message;
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

export async function postWebhook(url: string, body: string, options: PostOptions): Promise<PostResult> {
  const deadline = Date.now() + options.timeoutMs;
  const first = await attempt(url, body, options, options.timeoutMs);
  if (!first.staleConnection || options.signal?.aborted) return first.result;
  return (await attempt(url, body, options, Math.max(1, deadline - Date.now()))).result;
}

interface Attempt {
  result: PostResult;
  /** Failed on a reused connection before any answer: the receiver had closed it. */
  staleConnection: boolean;
}

function attempt(url: string, body: string, options: PostOptions, timeoutMs: number): Promise<Attempt> {
  return new Promise((resolveAttempt) => {
    let stale = false;
    const resolve = (result: PostResult) => resolveAttempt({ result, staleConnection: stale });
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return resolve({ ok: false, status: null, error: 'invalid url' });
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      return resolve({ ok: false, status: null, error: 'not an http or https url' });
    }
    const literal = target.hostname.replace(/^\[|\]$/g, '');
    if (!options.allowPrivate && isIP(literal) !== 0 && isPrivateAddress(literal)) {
      return resolve({ ok: false, status: null, error: `${literal} is a private address` });
    }
    let settled = false;
    let answered = false;
    const finish = (result: PostResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const client = target.protocol === 'https:' ? https : http;
    const request = client.request(
      target,
      {
        method: 'POST',
        headers: {
          ...options.headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'Microchatter-Webhooks',
        },
        lookup: guardedLookup(options.allowPrivate),
        agent: agentFor(target.protocol, options.allowPrivate),
        signal: options.signal,
      },
      (response) => {
        answered = true;
        const status = response.statusCode ?? 0;
        let read = 0;
        const done = () => {
          if (status >= 200 && status < 300) finish({ ok: true, status });
          else if (status >= 300 && status < 400) {
            finish({
              ok: false,
              status,
              error: `redirect to ${response.headers.location ?? '?'} not followed`,
            });
          } else finish({ ok: false, status, error: `answered ${status}` });
        };
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read >= MAX_RESPONSE_BYTES) {
            // Enough to know the status: the rest of a large answer is not read.
            response.destroy();
            done();
          }
        });
        response.on('end', done);
        response.on('error', (error) => finish({ ok: false, status, error: describe(error) }));
        response.on('close', done);
      },
    );
    const timer = setTimeout(() => {
      request.destroy(new Error(`no answer within ${options.timeoutMs} ms`));
    }, timeoutMs);
    request.on('error', (error) => {
      const code = (error as NodeJS.ErrnoException).code;
      stale = request.reusedSocket && !answered && (code === 'ECONNRESET' || code === 'EPIPE');
      finish({ ok: false, status: null, error: describe(error) });
    });
    request.end(body);
  });
}
