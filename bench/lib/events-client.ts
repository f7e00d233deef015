/**
 * A client process of the realtime benchmark (forked by bench/lib/events-workers.ts with an IPC
 * channel). It plays one of two roles, whichever commands it is given:
 *
 * - receiver: holds many SSE streams over plain node:http (no keep-alive, no EventSource: ten thousand
 *   `eventsource` clients would measure the client), parses their frames, remembers each stream's last
 *   event id (to resume with `Last-Event-ID`) and every benchmark marker it received, and timestamps
 *   arrivals;
 * - sender: POSTs over undici (keep-alive), one request or an open-loop stream of them at a fixed rate.
 *
 * Markers: a message body `bench|<key>|<sent at>|<recipient or *>`. The sender fills in the send time
 * (`{t}` in a body template) just before the request leaves. Every time in this benchmark is
 * `performance.timeOrigin + performance.now()`: wall-clock milliseconds with sub-millisecond
 * resolution, comparable between processes on one machine.
 */
import { Agent, type ClientRequest, type IncomingMessage, request } from 'node:http';
import { Pool } from 'undici';
import type { ClientCommand, ClientReply, KeyStat, PostSpec, StreamSpec } from './events-workers.ts';

const now = () => performance.timeOrigin + performance.now();

const MARKER = /bench\|([^|"\\]+)\|([0-9.]+)\|([^|"\\]+)/g;

interface Stream {
  spec: StreamSpec;
  request: ClientRequest | undefined;
  buffer: string;
  lastEventId: string | undefined;
  /** Live (its `ready` frame arrived) on the current connection. */
  ready: boolean;
  readyAt: number;
  /** Set while the benchmark itself is dropping the connection. */
  dropping: boolean;
  failed: string | undefined;
  /** Markers seen over the stream's whole life, across reconnects. */
  seen: Set<string>;
  dupes: number;
  resets: number;
}

const streams: Stream[] = [];
const keys = new Map<string, KeyStat>();
/** Arrival − send time at the marker's recipient, by key prefix (see `prefixOf`). */
const latencies = new Map<string, number[]>();
let unexpectedCloses = 0;
const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });

/** Keys look like `<prefix>-<n>`; latencies are kept per prefix (one per measured series). */
const prefixOf = (key: string) => key.slice(0, key.lastIndexOf('-'));

function onFrames(stream: Stream, text: string, at: number): void {
  for (const frame of text.split('\n\n')) {
    if (!frame) continue;
    let type: string | undefined;
    let data: string | undefined;
    for (const line of frame.split('\n')) {
      if (line.startsWith('id: ')) stream.lastEventId = line.slice(4);
      else if (line.startsWith('event: ')) type = line.slice(7);
      else if (line.startsWith('data: ')) data = line.slice(6);
    }
    if (type === 'ready') {
      stream.ready = true;
      stream.readyAt = at;
    } else if (type === 'reset') stream.resets++;
    if (data?.includes('bench|')) {
      for (const match of data.matchAll(MARKER)) {
        const [, key = '', sentAt = '0', to = ''] = match;
        if (to !== '*' && to !== stream.spec.user) continue;
        if (stream.seen.has(key)) stream.dupes++;
        else stream.seen.add(key);
        const stat = keys.get(key);
        if (stat) {
          stat.count++;
          stat.first = Math.min(stat.first, at);
          stat.last = Math.max(stat.last, at);
        } else keys.set(key, { count: 1, first: at, last: at, sentAt: Number(sentAt) });
        if (to !== '*') {
          const prefix = prefixOf(key);
          const list = latencies.get(prefix) ?? [];
          latencies.set(prefix, list);
          list.push(at - Number(sentAt));
        }
      }
    }
  }
}

function connect(stream: Stream, origin: URL): void {
  const headers: Record<string, string> = { accept: 'text/event-stream', ...stream.spec.headers };
  if (stream.lastEventId !== undefined) headers['last-event-id'] = stream.lastEventId;
  stream.ready = false;
  stream.dropping = false;
  stream.failed = undefined;
  stream.buffer = '';
  const req = request({
    host: origin.hostname,
    port: origin.port,
    path: stream.spec.path,
    method: 'GET',
    headers,
    agent,
  });
  stream.request = req;
  req.on('response', (response: IncomingMessage) => {
    if (response.statusCode !== 200) {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      response.once('end', () => {
        stream.failed = `GET ${stream.spec.path} answered ${response.statusCode}: ${body.slice(0, 200)}`;
      });
      return;
    }
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      const at = now();
      const buffer = stream.buffer + chunk;
      const end = buffer.lastIndexOf('\n\n');
      if (end < 0) {
        stream.buffer = buffer;
        return;
      }
      stream.buffer = buffer.slice(end + 2);
      onFrames(stream, buffer.slice(0, end), at);
    });
    response.on('error', () => undefined);
  });
  req.on('error', (error) => {
    if (!stream.dropping) stream.failed ??= error.message;
  });
  req.on('close', () => {
    if (!stream.dropping && !stream.failed) unexpectedCloses++;
    stream.ready = false;
    stream.request = undefined;
  });
  req.end();
}

function waitFor<T>(check: () => T | undefined, timeoutMs: number, what: () => string): Promise<T> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const tick = () => {
      let result: T | undefined;
      try {
        result = check();
      } catch (error) {
        reject(error);
        return;
      }
      if (result !== undefined) resolve(result);
      else if (Date.now() > deadline) reject(new Error(`timed out after ${timeoutMs} ms: ${what()}`));
      else setTimeout(tick, 2);
    };
    tick();
  });
}

/** (Re)connects `targets` with at most `concurrency` connections not yet live at a time. */
async function openAll(
  targets: Stream[],
  origin: URL,
  concurrency: number,
  timeoutMs: number,
): Promise<{ startedAt: number; lastReadyAt: number; readyPercentiles: number[] }> {
  const startedAt = now();
  let next = 0;
  const pending = new Set<Stream>();
  const pump = () => {
    for (const stream of pending) {
      if (stream.failed) throw new Error(stream.failed);
      if (stream.ready) pending.delete(stream);
    }
    while (next < targets.length && pending.size < concurrency) {
      const stream = targets[next++] as Stream;
      pending.add(stream);
      connect(stream, origin);
    }
    return next >= targets.length && pending.size === 0 ? true : undefined;
  };
  await waitFor(pump, timeoutMs, () => `${next - pending.size} of ${targets.length} streams live`);
  const ready = targets.map((stream) => stream.readyAt - startedAt).sort((a, b) => a - b);
  return {
    startedAt,
    lastReadyAt: startedAt + (ready[ready.length - 1] ?? 0),
    // Time until live, at every 1 % of the streams (for a plot of the storm).
    readyPercentiles: Array.from(
      { length: 101 },
      (_, q) => ready[Math.min(ready.length - 1, Math.floor((q / 100) * ready.length))] ?? 0,
    ),
  };
}

/** Destroys the connections of every stream and waits until they are closed. */
async function dropAll(): Promise<void> {
  for (const stream of streams) {
    stream.dropping = true;
    stream.request?.destroy();
  }
  await waitFor(
    () => (streams.every((stream) => stream.request === undefined) ? true : undefined),
    10_000,
    () => 'connections still open after drop',
  );
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

const pools = new Map<string, Pool>();
function poolFor(origin: string, connections: number): Pool {
  const key = `${origin} ${connections}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = new Pool(origin, { connections, pipelining: 1 });
    pools.set(key, pool);
  }
  return pool;
}

/** Sends one POST, its body's `{t}` replaced by the send time; fails on a non-2xx answer. */
async function post(pool: Pool, spec: PostSpec): Promise<{ sentAt: number; ms: number }> {
  const sentAt = now();
  const response = await pool.request({
    method: 'POST',
    path: spec.path,
    headers: { 'content-type': 'application/json', ...spec.headers },
    body: spec.body.replace('{t}', sentAt.toFixed(3)),
  });
  const text = await response.body.text();
  if (response.statusCode < 200 || response.statusCode > 299) {
    throw new Error(`POST ${spec.path} answered ${response.statusCode}: ${text.slice(0, 300)}`);
  }
  return { sentAt, ms: now() - sentAt };
}

/** Open loop: request i leaves at start + i / rate, whether or not earlier ones were answered. */
async function sendAtRate(origin: string, specs: PostSpec[], rate: number, connections: number) {
  const pool = poolFor(origin, connections);
  const sendMs: number[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: string | undefined;
  let maxLateMs = 0;
  const start = now();
  for (let i = 0; i < specs.length && !failure; ) {
    const elapsed = now() - start;
    const due = Math.min(specs.length, Math.floor((elapsed * rate) / 1000) + 1);
    maxLateMs = Math.max(maxLateMs, elapsed - (i * 1000) / rate);
    for (; i < due; i++) {
      const call = post(pool, specs[i] as PostSpec).then(
        (result) => {
          sendMs.push(result.ms);
        },
        (error: unknown) => {
          failure ??= error instanceof Error ? error.message : String(error);
        },
      );
      inFlight.add(call);
      void call.finally(() => inFlight.delete(call));
    }
    // Sleep until the next request is due (not a busy 1 ms poll: this machine's cores are shared).
    const wait = start + (i * 1000) / rate - now();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
  }
  const seconds = (now() - start) / 1000;
  await Promise.all(inFlight);
  if (failure) throw new Error(failure);
  sendMs.sort((a, b) => a - b);
  return {
    sent: sendMs.length,
    seconds,
    perSecond: sendMs.length / seconds,
    sendP50: percentile(sendMs, 0.5),
    sendP99: percentile(sendMs, 0.99),
    maxLateMs,
  };
}

async function handle(command: ClientCommand): Promise<unknown> {
  switch (command.type) {
    case 'clock':
      return { wall: now(), monotonic: Number(process.hrtime.bigint()) / 1e6 };
    case 'open': {
      const added = command.specs.map(
        (spec): Stream => ({
          spec,
          request: undefined,
          buffer: '',
          lastEventId: undefined,
          ready: false,
          readyAt: 0,
          dropping: false,
          failed: undefined,
          seen: new Set(),
          dupes: 0,
          resets: 0,
        }),
      );
      streams.push(...added);
      const timing = await openAll(added, new URL(command.origin), command.concurrency, command.timeoutMs);
      return { streams: streams.length, ms: timing.lastReadyAt - timing.startedAt };
    }
    case 'drop':
      await dropAll();
      return { streams: streams.length };
    case 'reconnect': {
      const timing = await openAll(streams, new URL(command.origin), command.concurrency, command.timeoutMs);
      return timing;
    }
    case 'closeAll':
      await dropAll();
      streams.length = 0;
      keys.clear();
      latencies.clear();
      unexpectedCloses = 0;
      return { streams: 0 };
    case 'waitKeys': {
      const stats = await waitFor(
        () => {
          const found = command.keys.map((key) => keys.get(key));
          return found.every((stat) => stat && stat.count >= command.expected)
            ? (found as KeyStat[])
            : undefined;
        },
        command.timeoutMs,
        () =>
          command.keys.map((key) => `${key}: ${keys.get(key)?.count ?? 0}/${command.expected}`).join(', '),
      );
      return stats;
    }
    case 'latencies': {
      const count = () => latencies.get(command.prefix)?.length ?? 0;
      await waitFor(
        () => (count() >= command.expected ? true : undefined),
        command.timeoutMs,
        () => `${count()} of ${command.expected} deliveries of ${command.prefix}`,
      ).catch(() => undefined);
      return { samples: latencies.get(command.prefix) ?? [], expected: command.expected };
    }
    case 'verify': {
      // Every stream, across its reconnects, must hold each expected marker of its user exactly once.
      const complete = () =>
        streams.every(
          (stream) =>
            stream.ready && (command.expected[stream.spec.user] ?? []).every((k) => stream.seen.has(k)),
        );
      await waitFor(
        () => (complete() ? true : undefined),
        command.timeoutMs,
        () => 'streams not caught up',
      ).catch(() => undefined);
      let missing = 0;
      let unexpected = 0;
      let dupes = 0;
      let resets = 0;
      let caughtUpAt = 0;
      let notLive = 0;
      for (const stream of streams) {
        const wanted = new Set(command.expected[stream.spec.user] ?? []);
        for (const key of wanted) if (!stream.seen.has(key)) missing++;
        for (const key of stream.seen) {
          if (key.startsWith(command.prefix) && !wanted.has(key)) unexpected++;
        }
        dupes += stream.dupes;
        resets += stream.resets;
        if (!stream.ready) notLive++;
        caughtUpAt = Math.max(caughtUpAt, stream.readyAt);
      }
      for (const [key, stat] of keys)
        if (key.startsWith(command.prefix)) caughtUpAt = Math.max(caughtUpAt, stat.last);
      return {
        streams: streams.length,
        missing,
        unexpected,
        dupes,
        resets,
        notLive,
        caughtUpAt,
        unexpectedCloses,
      };
    }
    case 'post': {
      const pool = poolFor(command.origin, 1);
      return post(pool, command.spec);
    }
    case 'rate':
      return sendAtRate(command.origin, command.specs, command.rate, command.connections);
  }
}

process.on('message', (message: { id: number; command: ClientCommand }) => {
  handle(message.command).then(
    (result) => process.send?.({ id: message.id, ok: true, result } satisfies ClientReply),
    (error: unknown) =>
      process.send?.({
        id: message.id,
        ok: false,
        error: error instanceof Error ? error.message : String(error),
      } satisfies ClientReply),
  );
});
// The benchmark going away (even by SIGKILL) closes the channel: nothing left to do.
process.on('disconnect', () => process.exit(0));
