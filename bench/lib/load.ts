/**
 * Closed-loop load from a separate process: N loops, each sending its next request as soon as the
 * previous answer has been read, for a warm-up and then a timed window. The same generator process
 * (bench/lib/load-generator.ts) drives HTTP requests (undici, keep-alive, one connection per loop) and
 * SQL calls (the `postgres` client, a pool of one connection per loop), so that both sides of a ratio
 * pay the same client-side costs on the same CPUs, and neither shares a process with the server.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { forkNode, ROOT } from './processes.ts';

/** One HTTP request of a loop; a loop sends its requests in turn, round and round. */
export interface HttpRequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** A value bound to a SQL parameter. */
export type SqlParam = string | number | null;

interface Timing {
  /** Milliseconds of load before the timed window opens (connections, JIT, plans warm up). */
  warmupMs: number;
  /** Milliseconds of the timed window. */
  durationMs: number;
}

export interface HttpJob extends Timing {
  kind: 'http';
  /** e.g. http://127.0.0.1:41234 */
  origin: string;
  /**
   * Several servers behind one load (scale-out): loop i talks to `origins[i % origins.length]`, and
   * `origin` is not used. Absent: every loop talks to `origin`.
   */
  origins?: string[];
  /** One list of requests per loop (= per connection). */
  loops: HttpRequestSpec[][];
}

export interface SqlJob extends Timing {
  kind: 'sql';
  url: string;
  /** The statement every call runs, with $1… placeholders. */
  statement: string;
  /** Named prepared statement (parsed and planned once per connection) or an unnamed one each time. */
  prepare: boolean;
  /** Connections in the pool; default one per loop. Fewer: the loops queue for them, as in a server. */
  poolSize?: number;
  /** One list of parameter arrays per loop (= per connection). */
  loops: SqlParam[][][];
}

export type Job = HttpJob | SqlJob;

export interface LoadResult {
  concurrency: number;
  /** Calls completed inside the timed window. */
  completed: number;
  /** Length of the timed window in seconds. */
  seconds: number;
  /** completed ÷ seconds. */
  perSecond: number;
  /** Milliseconds per call inside the window (client-side: request written to answer read). */
  latency: { p50: number; p90: number; p99: number; mean: number; max: number };
  /** CPU milliseconds the generator process used in the window (user + system). */
  generatorCpuMs: number;
}

/**
 * Messages between the benchmark and its generator. The generator keeps its connections open after
 * the window closes until the benchmark acknowledges it, so that CPU counters of Postgres backends
 * are read before those backends exit.
 */
export type ToGenerator = { id: number; type: 'job'; job: Job } | { id: number; type: 'closed' };
export type FromGenerator =
  | { id: number; type: 'window'; phase: 'open' | 'close' }
  | { id: number; type: 'done'; result: LoadResult }
  | { id: number; type: 'failed'; error: string };

export interface LoadGenerator {
  pid: number;
  /**
   * Runs a job; `onWindow` is called as the timed window opens and closes (for CPU accounting of other
   * processes). Rejects when a call failed (a non-2xx answer, a SQL error): figures over failed calls
   * would mean nothing.
   */
  run(job: Job, onWindow?: (phase: 'open' | 'close') => void): Promise<LoadResult>;
  stop(): Promise<void>;
}

export function startLoadGenerator(): LoadGenerator {
  const { process: child, stop } = forkNode(path.join(ROOT, 'bench/lib/load-generator.ts'), 'load generator');
  if (child.pid === undefined) throw new Error('the load generator did not start');
  let nextId = 1;
  const pending = new Map<
    number,
    {
      resolve(result: LoadResult): void;
      reject(error: Error): void;
      onWindow?: ((phase: 'open' | 'close') => void) | undefined;
    }
  >();
  child.on('message', (message: FromGenerator) => {
    const waiting = pending.get(message.id);
    if (!waiting) return;
    if (message.type === 'window') {
      waiting.onWindow?.(message.phase);
      if (message.phase === 'close') child.send({ id: message.id, type: 'closed' } satisfies ToGenerator);
    } else {
      pending.delete(message.id);
      if (message.type === 'done') waiting.resolve(message.result);
      else waiting.reject(new Error(message.error));
    }
  });
  child.once('exit', (code, signal) => {
    for (const waiting of pending.values()) {
      waiting.reject(new Error(`the load generator exited (${signal ?? code})`));
    }
    pending.clear();
  });
  return {
    pid: child.pid,
    run(job, onWindow) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject, onWindow });
        (child as ChildProcess).send({ id, type: 'job', job } satisfies ToGenerator, (error) => {
          if (error) {
            pending.delete(id);
            reject(error);
          }
        });
      });
    },
    stop: () => stop(2000),
  };
}
