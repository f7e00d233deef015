/**
 * One webhook delivery attempt over HTTP: a POST that follows no redirect, gives up after the timeout
 * (connecting included), and reads at most 64 KiB of the answer. Targets are checked as they are
 * resolved, so a host name that points at a private address (or is re-pointed there later) is refused
 * like a private address written in the URL; the check and the connection use the same address.
 * Connections are kept alive and reused for the next deliveries to the same host (a new connection
 * per POST cost as much as the POST); a POST whose connection went away under it before any answer
 * (a kept connection the receiver closed meanwhile) is tried once more, which spends no attempt.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent } from 'undici';

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
 * Kept-alive connections (undici: a POST costs about half the CPU of node:http's client, 36–61 against
 * 93–132 µs, bench/webhook-post.ts), one pool per setting of allowPrivate, so a connection made while
 * private addresses were allowed is never reused when they are not. Every new connection resolves its
 * host through the guarded lookup; undici follows no redirect unless told to.
 */
const agents = new Map<boolean, Agent>();
function agentFor(allowPrivate: boolean): Agent {
  let agent = agents.get(allowPrivate);
  if (!agent) {
    agent = new Agent({
      connections: 32,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 30_000,
      connect: { lookup: guardedLookup(allowPrivate) },
    });
    agents.set(allowPrivate, agent);
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
  /** Failed on its connection before any answer: a kept connection the receiver had closed. */
  staleConnection: boolean;
}

/** Errors of a connection that went away under a request, before any answer. */
const CLOSED_UNDER_US = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

async function attempt(url: string, body: string, options: PostOptions, timeoutMs: number): Promise<Attempt> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return failed('invalid url');
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') return failed('not an http or https url');
  const literal = target.hostname.replace(/^\[|\]$/g, '');
  if (!options.allowPrivate && isIP(literal) !== 0 && isPrivateAddress(literal)) {
    return failed(`${literal} is a private address`);
  }
  // One deadline for the whole attempt, connecting included; the worker's signal ends it too.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  const stop = () => deadline.abort();
  options.signal?.addEventListener('abort', stop, { once: true });
  try {
    const response = await agentFor(options.allowPrivate).request({
      origin: target.origin,
      path: `${target.pathname}${target.search}`,
      method: 'POST',
      headers: {
        ...options.headers,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'user-agent': 'Microchatter-Webhooks',
      },
      body,
      signal: deadline.signal,
    });
    const status = response.statusCode;
    let read = 0;
    try {
      for await (const chunk of response.body) {
        read += (chunk as Buffer).length;
        // Enough to know the status: the rest of a large answer is not read.
        if (read >= MAX_RESPONSE_BYTES) break; // leaving the loop destroys the body
      }
    } catch {
      // The status was in; an answer's body that broke off or ran past the deadline changes nothing.
    }
    return answered(status, response.headers.location);
  } catch (error) {
    if (deadline.signal.aborted && !options.signal?.aborted)
      return failed(`no answer within ${options.timeoutMs} ms`);
    const code = (error as NodeJS.ErrnoException).code ?? '';
    return {
      result: { ok: false, status: null, error: describe(error) },
      staleConnection: CLOSED_UNDER_US.has(code),
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', stop);
  }
}

function answered(status: number, location: string | string[] | undefined): Attempt {
  if (status >= 200 && status < 300) return { result: { ok: true, status }, staleConnection: false };
  if (status >= 300 && status < 400) {
    const to = (Array.isArray(location) ? location[0] : location) ?? '?';
    return failed(`redirect to ${to} not followed`, status);
  }
  return failed(`answered ${status}`, status);
}

function failed(error: string, status: number | null = null): Attempt {
  return { result: { ok: false, status, error }, staleConnection: false };
}
