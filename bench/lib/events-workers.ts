/**
 * The realtime benchmark's side of its client processes (bench/lib/events-client.ts): fork one, send it
 * commands, await their answers. Also the file-descriptor limit: ten thousand streams need more than
 * the usual 1,024 (or this machine's 20,000 with two servers' worth open), so every process of the
 * benchmark gets its soft and hard `nofile` limit raised with prlimit(1) when it is allowed.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { forkNode, ROOT } from './processes.ts';

export interface StreamSpec {
  /** The user the stream belongs to: markers addressed to another user are ignored. */
  user: string;
  /** Path and query, e.g. /events or /events?user=u1. */
  path: string;
  headers: Record<string, string>;
}

/** A POST whose body may hold `{t}`, replaced by the send time just before it leaves. */
export interface PostSpec {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Arrivals of one marker over all streams. */
export interface KeyStat {
  count: number;
  first: number;
  last: number;
  sentAt: number;
}

export interface Verification {
  streams: number;
  /** Expected markers a stream never received. */
  missing: number;
  /** Markers of the checked prefix a stream received though it was not expected to. */
  unexpected: number;
  /** Markers received more than once by the same stream. */
  dupes: number;
  resets: number;
  notLive: number;
  /** When the last stream was live and had its last expected marker. */
  caughtUpAt: number;
  unexpectedCloses: number;
}

export type ClientCommand =
  | { type: 'clock' }
  | { type: 'open'; origin: string; specs: StreamSpec[]; concurrency: number; timeoutMs: number }
  | { type: 'drop' }
  | { type: 'reconnect'; origin: string; concurrency: number; timeoutMs: number }
  | { type: 'closeAll' }
  | { type: 'waitKeys'; keys: string[]; expected: number; timeoutMs: number }
  | { type: 'latencies'; prefix: string; expected: number; timeoutMs: number }
  | { type: 'verify'; prefix: string; expected: Record<string, string[]>; timeoutMs: number }
  | { type: 'post'; origin: string; spec: PostSpec }
  | { type: 'rate'; origin: string; specs: PostSpec[]; rate: number; connections: number };

export type ClientReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string };

export interface RateResult {
  sent: number;
  seconds: number;
  perSecond: number;
  /** HTTP answer times of the sends. */
  sendP50: number;
  sendP99: number;
  /** How far behind its schedule the sender fell at worst. */
  maxLateMs: number;
}

export interface EventsClient {
  pid: number;
  open(origin: string, specs: StreamSpec[], concurrency: number, timeoutMs?: number): Promise<{ ms: number }>;
  drop(): Promise<void>;
  reconnect(
    origin: string,
    concurrency: number,
    timeoutMs?: number,
  ): Promise<{ startedAt: number; lastReadyAt: number; readyPercentiles: number[] }>;
  closeAll(): Promise<void>;
  waitKeys(keys: string[], expected: number, timeoutMs?: number): Promise<KeyStat[]>;
  latencies(prefix: string, expected: number, timeoutMs?: number): Promise<{ samples: number[] }>;
  verify(prefix: string, expected: Record<string, string[]>, timeoutMs?: number): Promise<Verification>;
  post(origin: string, spec: PostSpec): Promise<{ sentAt: number; ms: number }>;
  rate(origin: string, specs: PostSpec[], rate: number, connections: number): Promise<RateResult>;
  /** This process's wall clock minus the machine's monotonic clock, in ms (for the skew check). */
  clockOffset(): Promise<number>;
  stop(): Promise<void>;
}

/** Machine-wide TCP counters (/proc/net/netstat): accept-queue overflows and SYN retransmissions. */
export function tcpCounters(): Record<'ListenOverflows' | 'ListenDrops' | 'TCPSynRetrans', number> {
  const counters = { ListenOverflows: 0, ListenDrops: 0, TCPSynRetrans: 0 };
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const names = lines.find((line) => line.startsWith('TcpExt:'))?.split(/\s+/) ?? [];
    const values = lines.filter((line) => line.startsWith('TcpExt:'))[1]?.split(/\s+/) ?? [];
    for (const key of Object.keys(counters) as (keyof typeof counters)[]) {
      const index = names.indexOf(key);
      if (index > 0) counters[key] = Number(values[index]);
    }
  } catch {
    // Not Linux: left at zero.
  }
  return counters;
}

/** The soft open-files limit of a process (Linux), or undefined. */
export function fileLimit(pid: number): number | undefined {
  try {
    const match = /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Raises the open-files limit of a running process to `limit`, or at least its soft limit to its hard
 * one (raising the hard limit needs CAP_SYS_RESOURCE); returns the soft limit it ends with.
 */
export function raiseFileLimit(pid: number, limit = 65_536): number | undefined {
  const prlimit = (value: string) => {
    try {
      execFileSync('prlimit', [`--pid=${pid}`, `--nofile=${value}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (!prlimit(`${limit}:${limit}`)) {
    const hard = /^Max open files\s+\d+\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1];
    if (hard) prlimit(`${hard}:${hard}`);
  }
  return fileLimit(pid);
}

export function startEventsClient(name: string): EventsClient {
  const { process: child, stop } = forkNode(path.join(ROOT, 'bench/lib/events-client.ts'), name);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name} did not start`);
  let nextId = 1;
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  child.on('message', (reply: ClientReply) => {
    const waiting = pending.get(reply.id);
    if (!waiting) return;
    pending.delete(reply.id);
    if (reply.ok) waiting.resolve(reply.result);
    else waiting.reject(new Error(`${name}: ${reply.error}`));
  });
  child.once('exit', (code, signal) => {
    for (const waiting of pending.values()) waiting.reject(new Error(`${name} exited (${signal ?? code})`));
    pending.clear();
  });
  const call = <T>(command: ClientCommand): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ id, command }, (error) => {
        if (error) {
          pending.delete(id);
          reject(error);
        }
      });
    });
  return {
    pid,
    open: (origin, specs, concurrency, timeoutMs = 120_000) =>
      call({ type: 'open', origin, specs, concurrency, timeoutMs }),
    drop: () => call({ type: 'drop' }),
    reconnect: (origin, concurrency, timeoutMs = 120_000) =>
      call({ type: 'reconnect', origin, concurrency, timeoutMs }),
    closeAll: () => call({ type: 'closeAll' }),
    waitKeys: (keys, expected, timeoutMs = 30_000) => call({ type: 'waitKeys', keys, expected, timeoutMs }),
    latencies: (prefix, expected, timeoutMs = 10_000) =>
      call({ type: 'latencies', prefix, expected, timeoutMs }),
    verify: (prefix, expected, timeoutMs = 60_000) => call({ type: 'verify', prefix, expected, timeoutMs }),
    post: (origin, spec) => call({ type: 'post', origin, spec }),
    rate: (origin, specs, rate, connections) => call({ type: 'rate', origin, specs, rate, connections }),
    async clockOffset() {
      const { wall, monotonic } = await call<{ wall: number; monotonic: number }>({ type: 'clock' });
      return wall - monotonic;
    },
    stop: () => stop(2000),
  };
}
