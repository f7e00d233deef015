/**
 * The load generator process (started by bench/lib/load.ts with an IPC channel): runs one job at a
 * time and answers with its figures. Closed loop: each of the N loops waits for its answer, reads it
 * completely (JSON parsed, rows built) and sends the next request at once.
 */
import { Pool } from 'undici';
import { connectDatabase } from '../../server/db.ts';
import type { FromGenerator, HttpJob, Job, LoadResult, SqlJob, ToGenerator } from './load.ts';

type Call = () => Promise<void>;

/** Acknowledgements of closed windows, by job id. */
const acknowledged = new Map<number, () => void>();

function send(message: FromGenerator): void {
  process.send?.(message);
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** Runs `calls[i]` in loop i until the window closes; counts and times the calls inside the window. */
async function drive(id: number, job: Job, loops: Call[][]): Promise<LoadResult> {
  let opened = Number.POSITIVE_INFINITY;
  let closed = Number.POSITIVE_INFINITY;
  let stopping = false;
  let failure: unknown;
  const latencies: number[] = [];
  let cpuAtOpen: NodeJS.CpuUsage | undefined;
  let cpu: NodeJS.CpuUsage | undefined;
  const closedSeen = new Promise<void>((resolve) => acknowledged.set(id, resolve));

  const openTimer = setTimeout(() => {
    opened = performance.now();
    cpuAtOpen = process.cpuUsage();
    send({ id, type: 'window', phase: 'open' });
  }, job.warmupMs);
  const closeTimer = setTimeout(() => {
    closed = performance.now();
    cpu = process.cpuUsage(cpuAtOpen);
    stopping = true;
    send({ id, type: 'window', phase: 'close' });
  }, job.warmupMs + job.durationMs);

  const loop = async (calls: Call[]) => {
    for (let i = 0; !stopping; i = (i + 1) % calls.length) {
      const call = calls[i];
      if (!call) throw new Error('a loop has no calls');
      const start = performance.now();
      try {
        await call();
      } catch (error) {
        failure ??= error;
        stopping = true;
        return;
      }
      const end = performance.now();
      // Throughput counts the answers read inside the window, whenever their request left.
      if (end >= opened && end <= closed) latencies.push(end - start);
    }
  };
  await Promise.all(loops.map(loop));
  clearTimeout(openTimer);
  clearTimeout(closeTimer);
  if (failure) {
    acknowledged.delete(id);
    throw failure;
  }
  await closedSeen;
  acknowledged.delete(id);
  if (!cpu || !Number.isFinite(opened)) throw new Error('the timed window never closed');

  const sorted = Float64Array.from(latencies).sort();
  const seconds = (closed - opened) / 1000;
  return {
    concurrency: loops.length,
    completed: sorted.length,
    seconds,
    perSecond: sorted.length / seconds,
    latency: {
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      p99: percentile(sorted, 0.99),
      mean: sorted.reduce((sum, x) => sum + x, 0) / sorted.length,
      max: sorted[sorted.length - 1] ?? Number.NaN,
    },
    generatorCpuMs: (cpu.user + cpu.system) / 1000,
  };
}

async function runHttp(id: number, job: HttpJob): Promise<LoadResult> {
  // One keep-alive connection per loop, no pipelining: N clients, each waiting for its answer.
  const origins = job.origins?.length ? job.origins : [job.origin];
  const pools = origins.map(
    (origin, o) =>
      new Pool(origin, {
        connections: job.loops.filter((_, i) => i % origins.length === o).length || 1,
        pipelining: 1,
      }),
  );
  try {
    const loops = job.loops.map((requests, loopIndex) => {
      const pool = pools[loopIndex % pools.length] as Pool;
      return requests.map(
        (spec): Call =>
          async () => {
            const response = await pool.request({
              method: spec.method,
              path: spec.path,
              headers: spec.headers,
              body: spec.body,
            });
            const text = await response.body.text();
            if (response.statusCode < 200 || response.statusCode > 299) {
              throw new Error(
                `${spec.method} ${spec.path} answered ${response.statusCode}: ${text.slice(0, 300)}`,
              );
            }
            // Like a real client, and like the SQL side, which builds row objects.
            if (text) JSON.parse(text);
          },
      );
    });
    return await drive(id, job, loops);
  } finally {
    await Promise.all(pools.map((pool) => pool.close()));
  }
}

async function runSql(id: number, job: SqlJob): Promise<LoadResult> {
  // The server's own pool settings (types, timeouts), with one connection per loop.
  const sql = connectDatabase(job.url, { max: job.poolSize ?? job.loops.length });
  try {
    const loops = job.loops.map((paramLists) =>
      paramLists.map(
        (params): Call =>
          async () => {
            await sql.unsafe(job.statement, params, { prepare: job.prepare });
          },
      ),
    );
    return await drive(id, job, loops);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

process.on('message', (message: ToGenerator) => {
  if (message.type === 'closed') {
    acknowledged.get(message.id)?.();
    return;
  }
  const { id, job } = message;
  const running = job.kind === 'http' ? runHttp(id, job) : runSql(id, job);
  running.then(
    (result) => send({ id, type: 'done', result }),
    (error: unknown) =>
      send({ id, type: 'failed', error: error instanceof Error ? error.message : String(error) }),
  );
});
// The benchmark going away (even by SIGKILL) closes the channel: nothing left to do.
process.on('disconnect', () => process.exit(0));
