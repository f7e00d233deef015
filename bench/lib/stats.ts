/** Timing helpers: interleaved client-side timing and server-side time from EXPLAIN ANALYZE. */
import type postgres from 'postgres';

export interface Stats {
  n: number;
  p50: number;
  mean: number;
  p95: number;
}

/** Stats of one query, which is kept with them so the results file says what was timed. */
export interface Timing extends Stats {
  query: string;
}

/** The median, the mean of the middle two for an even count (NaN for none). */
export function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}

export function summarize(ms: number[]): Stats {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  const mean = sorted.reduce((sum, x) => sum + x, 0) / sorted.length;
  return { n: sorted.length, p50: at(0.5), mean, p95: at(0.95) };
}

/**
 * Runs each query once per round, round after round, rotating which goes first, so that drift
 * (autovacuum, caches, CPU clock) hits every query alike. `measure` returns one duration in ms.
 * The first `warmup` rounds plan and cache everything and are not kept.
 */
async function interleave(
  count: number,
  rounds: number,
  warmup: number,
  measure: (index: number) => Promise<number>,
): Promise<number[][]> {
  const times: number[][] = Array.from({ length: count }, () => []);
  for (let round = 0; round < warmup + rounds; round++) {
    for (let k = 0; k < count; k++) {
      const index = (round + k) % count;
      const ms = await measure(index);
      if (round >= warmup) times[index]?.push(ms);
    }
  }
  return times;
}

/**
 * Client-side time of each query on one warm connection: the round trip, the server's work and
 * reading the rows, as the HTTP layer sees it. Queries are prepared, as the server's pool does.
 */
export async function clientTimes(
  sql: postgres.Sql,
  queries: string[],
  rounds: number,
  warmup: number,
): Promise<Timing[]> {
  const times = await interleave(queries.length, rounds, warmup, async (index) => {
    const start = process.hrtime.bigint();
    await sql.unsafe(queries[index] ?? '', [], { prepare: true });
    return Number(process.hrtime.bigint() - start) / 1e6;
  });
  return times.map((ms, index) => ({ query: queries[index] ?? '', ...summarize(ms) }));
}

/** Server-side execution time of each query (EXPLAIN ANALYZE's "Execution Time"; it runs the query). */
export async function serverTimes(
  sql: postgres.Sql,
  queries: string[],
  rounds: number,
  warmup: number,
): Promise<Timing[]> {
  const times = await interleave(queries.length, rounds, warmup, async (index) => {
    const [row] = await sql.unsafe(`explain (analyze, timing off, format json) ${queries[index]}`, [], {
      prepare: true,
    });
    const plan = (row?.['QUERY PLAN'] as { 'Execution Time': number }[] | undefined)?.[0];
    if (!plan) throw new Error(`no EXPLAIN output for ${queries[index]}`);
    return plan['Execution Time'];
  });
  return times.map((ms, index) => ({ query: queries[index] ?? '', ...summarize(ms) }));
}
