/**
 * `npm run bench:http [-- --quick] [-- --profile]`: what the HTTP layer costs, as ratios against
 * baselines measured in the same run.
 *
 * 1. Sends/s through `POST /rpc/send_message` (keep-alive; 1, 10 and 50 connections; one group
 *    conversation all senders belong to, and 1,000 direct conversations) ÷ the same SQL call driven
 *    directly by the `postgres` client with one pooled connection per loop. Target ≥ 0.8 at 10 and 50.
 * 2. Hono layer: a no-database route on Hono, served by server/http-server.ts ÷ the same answer from
 *    raw node:http, at 50 connections. Target ≥ 0.8. `GET /healthz` of the real server (one `select 1`)
 *    is reported beside it for information.
 * 3. Attachments: round trips/s of a 10 MiB file (`POST /attachments`, then `GET /attachments/<id>`,
 *    one connection) ÷ the same through a raw node:http server streaming to and from a file on disk
 *    (bench/lib/raw-files.ts). Target ≥ 0.3. Driven from this process (the generator speaks JSON
 *    bodies), which is idle otherwise: both sides pay the same client.
 *
 * Everything runs as separate processes on a throw-away database (bench/lib/database.ts): the real
 * server (server/main.ts), the hello servers, and one load generator (bench/lib/load-generator.ts)
 * that drives both the HTTP and the SQL side, so both pay the same client-side costs. Each figure is
 * the median over repeated pairs run back to back, in rotating order. CPU time of the server, Postgres
 * and the generator is read from /proc for every timed window, because on a 2-core machine they all
 * share the cores. `--profile` runs the server under `node --cpu-prof` and prints where its CPU went
 * (the figures of such a run carry the profiler's overhead).
 *
 * Writes bench/results/http-<date>.json (with `--out FILE`, also the figures in the suite's schema,
 * bench/lib/result.ts, for `npm run bench`). Exit code 1 only when the benchmark itself failed.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { Pool } from 'undici';
import { type CpuUse, cpuMeter, localPostgresProcesses } from './lib/cpu.ts';
import { type BenchDatabase, openBenchDatabase } from './lib/database.ts';
import { createDirectChats } from './lib/generate.ts';
import {
  type HttpRequestSpec,
  type Job,
  type LoadGenerator,
  type LoadResult,
  type SqlParam,
  startLoadGenerator,
} from './lib/load.ts';
import {
  type BenchServer,
  type HelloServer,
  startBenchServer,
  startHelloServer,
} from './lib/microchatter-server.ts';
import { ROOT, spawnNode } from './lib/processes.ts';
import { type ProfileSummary, profileLines, summarizeProfileDir } from './lib/profile.ts';
import {
  describeMachine,
  fileStamp,
  type Figure as NormalFigure,
  outFile,
  type Point,
  writePartResult,
} from './lib/result.ts';
import { SEND_STATEMENT } from './lib/sends.ts';
import { median } from './lib/stats.ts';
import { type WaitSampler, waitSampler } from './lib/waits.ts';

const quick = process.argv.includes('--quick');
const profiling = process.argv.includes('--profile');
const plan = quick
  ? // Short enough that `npm run bench -- --quick`, all parts together, stays under a minute.
    {
      warmupMs: 200,
      durationMs: 500,
      reps: 1,
      concurrencies: [1, 10, 50],
      helloConnections: 50,
      transfers: 2,
    }
  : {
      warmupMs: 1000,
      durationMs: 3000,
      reps: 3,
      concurrencies: [1, 10, 50],
      helloConnections: 50,
      transfers: 6,
    };
const TARGET = 0.8;
/** Concurrencies the target applies to; 1 connection is printed for reference. */
const TARGET_FROM = 10;
const SENDERS = 50;
const CHATS_PER_SENDER = 20;
const BODY = 'Hello from the HTTP benchmark, about as long as a short chat line.';
/** The attachment figure's file size, and its target (÷ the raw disk server). */
const ATTACHMENT_MIB = 10;
const ATTACHMENT_TARGET = 0.3;

type Scenario = 'one' | 'many';
const scenarioName: Record<Scenario, string> = {
  one: 'one conversation',
  many: `${SENDERS * CHATS_PER_SENDER} conversations`,
};
/** Connections in the server's pool (server/db.ts's default, which server/main.ts uses). */
const SERVER_POOL = 10;
type Side =
  | 'http'
  | 'sql'
  | 'sql-unprepared'
  | 'sql-pool'
  | 'sql-no-notify'
  | 'hono'
  | 'raw'
  | 'healthz'
  | 'attachments'
  | 'raw-files';
const sideName: Record<Side, string> = {
  http: 'HTTP',
  sql: 'SQL',
  'sql-unprepared': 'SQL unprepared',
  'sql-no-notify': 'SQL without NOTIFY',
  'sql-pool': `SQL via ${SERVER_POOL} connections`,
  hono: 'Hono',
  raw: 'raw node:http',
  healthz: '/healthz',
  attachments: 'Microchatter attachments',
  'raw-files': 'raw node:http to disk',
};
/** What one call of a side is, for the figures' baselines. */
const unitOf = (side: Side): string =>
  side === 'http' ? 'sends/s' : side === 'attachments' ? `${ATTACHMENT_MIB} MiB round trips/s` : 'req/s';

interface Run {
  figure: string;
  side: Side;
  rep: number;
  result: LoadResult;
  /** CPU ms per process group in the window, and the machine's busy share. */
  cpu?: CpuUse | undefined;
  /** Share of sampled active backends per wait event ("CPU": none). */
  waits?: Record<string, number>;
}

interface SideSummary {
  side: Side;
  /** Medians over the repetitions. */
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Median CPU µs per call, per process group. */
  cpuUsPerCall: Record<string, number>;
  machineBusy?: number | undefined;
  /** Wait events of the busy backends, summed over the repetitions (shares). */
  waits: Record<string, number>;
}

interface Figure {
  name: string;
  /** Median over the pairs of numerator ÷ denominator. */
  value: number;
  /** Each pair's ratio, in run order. */
  pairs: number[];
  target?: number | undefined;
  met?: boolean | undefined;
  numerator: SideSummary;
  denominator: SideSummary;
  /** The same numerator over another baseline, for information. */
  also?: { value: number; denominator: SideSummary }[];
  /**
   * Denominator's CPU µs per call ÷ numerator's (of `cpuOf`, or of all processes): the ratio the
   * throughputs would have if both sides got the same CPU. Less exposed to other work on a shared
   * machine than req/s, which swing with it.
   */
  cpuRatio?: { value: number; of: string };
}

const rate = (x: number) => `${Math.round(x)}/s`;
const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)} ms`;

function summarizeSide(runs: Run[], side: Side): SideSummary {
  const mine = runs.filter((run) => run.side === side);
  if (!mine.length) throw new Error(`no runs of ${side}`);
  const groups = Object.keys(mine[0]?.cpu?.byGroup ?? {});
  const cpuUsPerCall: Record<string, number> = {};
  for (const group of groups) {
    cpuUsPerCall[group] = median(
      mine.map((run) => ((run.cpu?.byGroup[group] ?? 0) * 1000) / Math.max(1, run.result.completed)),
    );
  }
  const busy = mine.flatMap((run) => (run.cpu?.machineBusy === undefined ? [] : [run.cpu.machineBusy]));
  const waits: Record<string, number> = {};
  for (const run of mine) {
    for (const [event, share] of Object.entries(run.waits ?? {})) {
      waits[event] = (waits[event] ?? 0) + share / mine.length;
    }
  }
  return {
    waits,
    side,
    perSecond: median(mine.map((run) => run.result.perSecond)),
    p50Ms: median(mine.map((run) => run.result.latency.p50)),
    p99Ms: median(mine.map((run) => run.result.latency.p99)),
    cpuUsPerCall,
    machineBusy: busy.length ? median(busy) : undefined,
  };
}

function pairRatios(runs: Run[], numerator: Side, denominator: Side): number[] {
  const byRep = (side: Side) => new Map(runs.filter((r) => r.side === side).map((r) => [r.rep, r.result]));
  const top = byRep(numerator);
  const bottom = byRep(denominator);
  return [...top].flatMap(([rep, result]) => {
    const base = bottom.get(rep);
    return base ? [result.perSecond / base.perSecond] : [];
  });
}

const cpuPerCall = (summary: SideSummary, group?: string): number =>
  group === undefined
    ? Object.values(summary.cpuUsPerCall).reduce((sum, us) => sum + us, 0)
    : (summary.cpuUsPerCall[group] ?? 0);

function makeFigure(
  name: string,
  runs: Run[],
  numerator: Side,
  denominator: Side,
  target?: number,
  cpuOf?: string,
): Figure {
  const pairs = pairRatios(runs, numerator, denominator);
  const value = median(pairs);
  const top = summarizeSide(runs, numerator);
  const bottom = summarizeSide(runs, denominator);
  const figure: Figure = {
    name,
    value,
    pairs,
    target,
    met: target === undefined ? undefined : value >= target,
    numerator: top,
    denominator: bottom,
  };
  if (cpuPerCall(top, cpuOf) > 0) {
    figure.cpuRatio = {
      value: cpuPerCall(bottom, cpuOf) / cpuPerCall(top, cpuOf),
      of: cpuOf ?? 'all processes',
    };
  }
  return figure;
}

function cpuLine(summary: SideSummary): string {
  const parts = Object.entries(summary.cpuUsPerCall)
    .filter(([, us]) => us >= 0.5)
    .map(([group, us]) => `${group} ${Math.round(us)}`);
  const busy =
    summary.machineBusy === undefined ? '' : `; CPUs ${Math.round(summary.machineBusy * 100)}% busy`;
  return `${sideName[summary.side]}: ${parts.join(', ') || 'n/a'}${busy}`;
}

function waitLine(summary: SideSummary): string {
  const events = Object.entries(summary.waits)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([event, share]) => `${event} ${Math.round(share * 100)}%`);
  return `${sideName[summary.side]}: ${events.join(', ') || 'n/a'}`;
}

/** What the extra baselines show. */
const baselineNote: Partial<Record<Side, string>> = {
  'sql-unprepared': 'as server/rpc.ts sends it: unnamed statement, a parse + describe round trip per call',
  'sql-pool': `the loops share ${SERVER_POOL} connections, as many as the server's pool`,
  'sql-no-notify':
    'the same transaction with its NOTIFY trigger disabled: compare with SQL to see what NOTIFY costs',
};

function printFigure(figure: Figure): void {
  const { numerator: a, denominator: b } = figure;
  const verdict =
    figure.target === undefined
      ? '(reference, no target)'
      : `target ≥ ${figure.target} ${figure.met ? '✓' : '✗ MISSED'}`;
  const pairs = figure.pairs.length > 1 ? `; pairs ${figure.pairs.map((x) => x.toFixed(2)).join(' ')}` : '';
  console.log(
    `${figure.name}: ${figure.value.toFixed(2)} (${sideName[a.side]} ${rate(a.perSecond)}, p50 ${ms(a.p50Ms)}, ` +
      `p99 ${ms(a.p99Ms)} vs ${sideName[b.side]} ${rate(b.perSecond)}, p50 ${ms(b.p50Ms)}, p99 ${ms(b.p99Ms)}` +
      `${pairs}) ${verdict}`,
  );
  for (const also of figure.also ?? []) {
    console.log(
      `    HTTP ÷ ${sideName[also.denominator.side]} (${baselineNote[also.denominator.side] ?? ''}): ` +
        `${also.value.toFixed(2)} (${rate(also.denominator.perSecond)}, p50 ${ms(also.denominator.p50Ms)}, ` +
        `p99 ${ms(also.denominator.p99Ms)})`,
    );
  }
  const sides = [a, b, ...(figure.also ?? []).map((x) => x.denominator)];
  console.log(`    CPU µs per call: ${sides.map(cpuLine).join(' | ')}`);
  if (figure.cpuRatio) {
    const group = figure.cpuRatio.of === 'all processes' ? undefined : figure.cpuRatio.of;
    console.log(
      `    per CPU time (${figure.cpuRatio.of}): ${sideName[a.side]} ÷ ${sideName[b.side]} ` +
        `${figure.cpuRatio.value.toFixed(2)} (${Math.round(cpuPerCall(a, group))} vs ` +
        `${Math.round(cpuPerCall(b, group))} µs per call)`,
    );
  }
  if (sides.some((side) => Object.keys(side.waits).length)) {
    console.log(`    active backends by wait event: ${sides.map(waitLine).join(' | ')}`);
  }
}

/** A figure in the suite's schema (bench/lib/result.ts); the other baselines go into the note. */
function normalize(figure: Figure): NormalFigure {
  const { numerator: a, denominator: b } = figure;
  const unit = unitOf(a.side);
  const note = [
    `${sideName[a.side]} ${rate(a.perSecond)} vs ${sideName[b.side]} ${rate(b.perSecond)}`,
    ...(figure.pairs.length > 1 ? [`pairs ${figure.pairs.map((x) => x.toFixed(2)).join(' ')}`] : []),
    ...(figure.also ?? []).map((also) => `÷ ${sideName[also.denominator.side]} ${also.value.toFixed(2)}`),
    ...(figure.cpuRatio ? [`per CPU time ${figure.cpuRatio.value.toFixed(2)}`] : []),
  ];
  const normal: NormalFigure = {
    name: figure.name,
    value: figure.value,
    unit: '×',
    baseline: { name: `${sideName[b.side]}, ${unit}`, value: b.perSecond },
    note: note.join('; '),
  };
  if (figure.target !== undefined) normal.target = { op: '>=', value: figure.target };
  if (figure.met !== undefined) normal.met = figure.met;
  return normal;
}

/** Median sends/s by connections, per side and scenario, for the suite's throughput plot. */
function throughputSeries(figures: Figure[]): Record<string, Point[]> {
  const series: Record<string, Point[]> = {};
  for (const figure of figures) {
    const cell = /^send, (.+), (\d+) connections?:/.exec(figure.name);
    if (!cell) continue;
    const [, scenario, connections] = cell;
    for (const side of [figure.numerator, figure.denominator]) {
      const name = `${sideName[side.side]}, ${scenario}`;
      series[name] ??= [];
      series[name].push({ x: Number(connections), y: side.perSecond });
    }
  }
  return series;
}

type Settings = Record<
  'version' | 'shared_buffers' | 'fsync' | 'synchronous_commit' | 'max_connections',
  string
>;

async function serverSettings(sql: postgres.Sql): Promise<Settings> {
  const [settings] = await sql<Settings[]>`
    select version(), current_setting('shared_buffers') as shared_buffers, current_setting('fsync') as fsync,
           current_setting('synchronous_commit') as synchronous_commit,
           current_setting('max_connections') as max_connections`;
  if (!settings) throw new Error('could not read the server settings');
  return settings;
}

interface FunctionStat {
  name: string;
  calls: number;
  total_ms: number;
  self_ms: number;
}

interface Chats {
  senders: string[];
  /** The group every sender belongs to. */
  group: number;
  /** Each sender's own direct conversations, by sender index. */
  direct: number[][];
}

/** 50 senders, each with 20 direct chats (1,000 in all), and one group of all 50. */
async function createChats(sql: postgres.Sql): Promise<Chats> {
  const senders = Array.from({ length: SENDERS }, (_, i) => `sender_${i + 1}`);
  const direct: number[][] = [];
  for (const [i, owner] of senders.entries()) {
    const ids = await createDirectChats(sql, {
      owner,
      peerPrefix: `peer_${i + 1}_`,
      chats: CHATS_PER_SENDER,
      messagesPerChat: 0,
    });
    direct.push(ids.map(Number));
  }
  const [row] = await sql<{ conversation_id: string }[]>`
    select conversation_id from chat.create_group(${senders[0] ?? ''}, 'HTTP benchmark', ${sql.array(senders.slice(1))})`;
  if (!row) throw new Error('the group was not created');
  return { senders, group: Number(row.conversation_id), direct };
}

/**
 * What each loop sends at a given concurrency: loop c acts as senders c, c+N, c+2N… (all 50 senders
 * are used at every concurrency), into the group, or into those senders' own direct chats.
 */
function sendsPerLoop(chats: Chats, scenario: Scenario, concurrency: number) {
  return Array.from({ length: concurrency }, (_, c) => {
    const mine = chats.senders.flatMap((sender, index) =>
      index % concurrency === c ? [{ sender, index }] : [],
    );
    if (scenario === 'one') return mine.map((call) => ({ ...call, conversation: chats.group }));
    return Array.from({ length: CHATS_PER_SENDER }, (_, k) =>
      mine.map((call) => ({ ...call, conversation: chats.direct[call.index]?.[k] ?? 0 })),
    ).flat();
  });
}

interface Context {
  db: BenchDatabase;
  generator: LoadGenerator;
  server: BenchServer;
  tokens: string[];
  chats: Chats;
  /** Process groups whose CPU time is read for each window. */
  groups: Record<string, () => number[]>;
  runs: Run[];
  /** Samples pg_stat_activity during the windows of runs that reach Postgres. */
  waits: WaitSampler;
}

/** Runs `work` with the event log's NOTIFY trigger disabled in the (throw-away) benchmark database. */
async function withoutNotify<T>(ctx: Context, work: () => Promise<T>): Promise<T> {
  const admin = postgres(ctx.db.url, { max: 1, onnotice: () => {} });
  try {
    await admin`alter table chat_private.events disable trigger notify_events`;
    try {
      return await work();
    } finally {
      await admin`alter table chat_private.events enable trigger notify_events`;
    }
  } finally {
    await admin.end();
  }
}

async function measure(ctx: Context, figure: string, side: Side, rep: number, job: Job): Promise<Run> {
  if (side === 'sql-no-notify') return withoutNotify(ctx, () => measureRun(ctx, figure, side, rep, job));
  return measureRun(ctx, figure, side, rep, job);
}

async function measureRun(ctx: Context, figure: string, side: Side, rep: number, job: Job): Promise<Run> {
  const meter = cpuMeter(ctx.groups);
  const sampler = job.kind === 'sql' || job.origin === ctx.server.url ? ctx.waits : undefined;
  let waits: Promise<Record<string, number>> | undefined;
  const result = await ctx.generator.run(job, (phase) => {
    if (phase === 'open') {
      meter.open();
      sampler?.start();
    } else {
      meter.close();
      waits = sampler?.stop();
    }
  });
  const run: Run = { figure, side, rep, result, cpu: meter.result() };
  if (waits) run.waits = await waits;
  ctx.runs.push(run);
  const busy =
    run.cpu?.machineBusy === undefined ? '' : `, CPUs ${Math.round(run.cpu.machineBusy * 100)}% busy`;
  console.log(
    `  ${figure} · ${sideName[side]} #${rep + 1}: ${rate(result.perSecond)} ` +
      `(p50 ${ms(result.latency.p50)}, p99 ${ms(result.latency.p99)}${busy})`,
  );
  return run;
}

function sendJob(ctx: Context, side: Side, scenario: Scenario, concurrency: number): Job {
  const loops = sendsPerLoop(ctx.chats, scenario, concurrency);
  const timing = { warmupMs: plan.warmupMs, durationMs: plan.durationMs };
  if (side === 'http') {
    return {
      kind: 'http',
      origin: ctx.server.url,
      ...timing,
      loops: loops.map((calls) =>
        calls.map(
          ({ index, conversation }): HttpRequestSpec => ({
            method: 'POST',
            path: '/rpc/send_message',
            headers: { authorization: `Bearer ${ctx.tokens[index]}`, 'content-type': 'application/json' },
            body: JSON.stringify({ conversation_id: conversation, body: BODY }),
          }),
        ),
      ),
    };
  }
  return {
    kind: 'sql',
    url: ctx.db.url,
    statement: SEND_STATEMENT,
    prepare: side !== 'sql-unprepared',
    ...(side === 'sql-pool' ? { poolSize: SERVER_POOL } : {}),
    ...timing,
    loops: loops.map((calls) =>
      calls.map(({ sender, conversation }): SqlParam[] => [sender, conversation, BODY]),
    ),
  };
}

const sidesOf = (concurrency: number): Side[] =>
  concurrency > SERVER_POOL
    ? ['http', 'sql', 'sql-pool', 'sql-no-notify']
    : ['http', 'sql', 'sql-unprepared', 'sql-no-notify'];

const rotate = <T>(items: T[], by: number): T[] => items.map((_, i) => items[(i + by) % items.length] as T);

async function sendFigures(ctx: Context): Promise<Figure[]> {
  const cells = (['one', 'many'] as Scenario[]).flatMap((scenario) =>
    plan.concurrencies.map((concurrency) => ({ scenario, concurrency })),
  );
  const label = (scenario: Scenario, concurrency: number) =>
    `send, ${scenarioName[scenario]}, ${concurrency} connection${concurrency > 1 ? 's' : ''}`;
  console.log(
    `sends: ${plan.reps} pair(s) per figure, ${plan.warmupMs / 1000} s warm-up + ${plan.durationMs / 1000} s each`,
  );
  // Repetitions are spread over the whole run, and the order of the sides rotates, so that drift
  // (autovacuum, other work on the machine, the growing tables) hits both sides alike.
  for (let rep = 0; rep < plan.reps; rep++) {
    for (const [i, { scenario, concurrency }] of cells.entries()) {
      // Besides the baseline: up to the server's pool size, the server's own protocol; beyond it, the
      // server's pool size, which queues the loops' calls in the client instead of in Postgres.
      const sides = sidesOf(concurrency);
      for (const side of rotate(sides, rep + i)) {
        await measure(
          ctx,
          label(scenario, concurrency),
          side,
          rep,
          sendJob(ctx, side, scenario, concurrency),
        );
      }
    }
  }
  return cells.map(({ scenario, concurrency }) => {
    const name = label(scenario, concurrency);
    const runs = ctx.runs.filter((run) => run.figure === name);
    const figure = makeFigure(
      `${name}: HTTP ÷ SQL`,
      runs,
      'http',
      'sql',
      concurrency >= TARGET_FROM ? TARGET : undefined,
    );
    figure.also = sidesOf(concurrency)
      .slice(2)
      .map((side) => {
        const other = makeFigure(name, runs, 'http', side);
        return { value: other.value, denominator: other.denominator };
      });
    return figure;
  });
}

async function helloFigures(ctx: Context, hono: HelloServer, raw: HelloServer): Promise<Figure[]> {
  const n = plan.helloConnections;
  const name = `trivial route, ${n} connections`;
  console.log(`Hono layer: ${plan.reps} round(s) of Hono hello, raw node:http hello and /healthz`);
  const origins: Partial<Record<Side, [string, string]>> = {
    hono: [hono.url, '/hello'],
    raw: [raw.url, '/hello'],
    healthz: [ctx.server.url, '/healthz'],
  };
  for (let rep = 0; rep < plan.reps; rep++) {
    for (const side of rotate<Side>(['hono', 'raw', 'healthz'], rep)) {
      const [origin, route] = origins[side] ?? ['', ''];
      const loops = Array.from({ length: n }, () => [{ method: 'GET', path: route } as HttpRequestSpec]);
      const job: Job = { kind: 'http', origin, loops, warmupMs: plan.warmupMs, durationMs: plan.durationMs };
      await measure(ctx, name, side, rep, job);
    }
  }
  const runs = ctx.runs.filter((run) => run.figure === name);
  return [
    makeFigure(
      `${name}: Hono (server/http-server.ts) ÷ raw node:http`,
      runs,
      'hono',
      'raw',
      TARGET,
      'hello servers',
    ),
    makeFigure(
      `GET /healthz (select 1), ${n} connections: real server ÷ raw node:http hello`,
      runs,
      'healthz',
      'raw',
    ),
  ];
}

const percentile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

/**
 * `plan.transfers` round trips of `file` to `origin` one after the other on one keep-alive connection,
 * after one untimed: upload, then download read to its end and counted.
 */
async function measureTransfers(
  ctx: Context,
  figure: string,
  side: Side,
  rep: number,
  origin: string,
  file: Buffer,
  token?: string,
): Promise<void> {
  const pool = new Pool(origin, { connections: 1, pipelining: 1 });
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const roundTrip = async () => {
    const up = await pool.request({
      method: 'POST',
      path: '/attachments?name=bench.bin',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: file,
    });
    const text = await up.body.text();
    if (up.statusCode !== 201)
      throw new Error(`${sideName[side]}: upload answered ${up.statusCode}: ${text}`);
    const { attachment_id: id } = JSON.parse(text) as { attachment_id: string };
    const down = await pool.request({ method: 'GET', path: `/attachments/${id}`, headers: auth });
    let bytes = 0;
    for await (const chunk of down.body) bytes += (chunk as Buffer).length;
    if (down.statusCode !== 200 || bytes !== file.length) {
      throw new Error(`${sideName[side]}: download answered ${down.statusCode} with ${bytes} bytes`);
    }
  };
  try {
    await roundTrip();
    const meter = cpuMeter(ctx.groups);
    const latencies: number[] = [];
    const cpuAtOpen = process.cpuUsage();
    meter.open();
    const opened = performance.now();
    for (let i = 0; i < plan.transfers; i++) {
      const start = performance.now();
      await roundTrip();
      latencies.push(performance.now() - start);
    }
    const seconds = (performance.now() - opened) / 1000;
    meter.close();
    const cpu = process.cpuUsage(cpuAtOpen);
    const sorted = [...latencies].sort((a, b) => a - b);
    const result: LoadResult = {
      concurrency: 1,
      completed: latencies.length,
      seconds,
      perSecond: latencies.length / seconds,
      latency: {
        p50: percentile(sorted, 0.5),
        p90: percentile(sorted, 0.9),
        p99: percentile(sorted, 0.99),
        mean: latencies.reduce((sum, x) => sum + x, 0) / latencies.length,
        max: sorted[sorted.length - 1] ?? Number.NaN,
      },
      generatorCpuMs: (cpu.user + cpu.system) / 1000,
    };
    const run: Run = { figure, side, rep, result, cpu: meter.result() };
    ctx.runs.push(run);
    const mbps = (file.length * 2 * result.perSecond) / 2 ** 20;
    console.log(
      `  ${figure} · ${sideName[side]} #${rep + 1}: ${result.perSecond.toFixed(2)}/s, ${mbps.toFixed(0)} MiB/s ` +
        `up and down (p50 ${ms(result.latency.p50)})`,
    );
  } finally {
    await pool.close();
  }
}

async function attachmentFigure(ctx: Context, rawFiles: HelloServer): Promise<Figure> {
  const name = `attachments, ${ATTACHMENT_MIB} MiB upload + download, 1 connection`;
  const file = randomBytes(ATTACHMENT_MIB * 2 ** 20);
  console.log(`attachments: ${plan.reps} round(s) of ${plan.transfers} round trips per side`);
  const origins: Partial<Record<Side, [string, string | undefined]>> = {
    attachments: [ctx.server.url, ctx.tokens[0]],
    'raw-files': [rawFiles.url, undefined],
  };
  for (let rep = 0; rep < plan.reps; rep++) {
    for (const side of rotate<Side>(['attachments', 'raw-files'], rep)) {
      const [origin, token] = origins[side] ?? ['', undefined];
      await measureTransfers(ctx, name, side, rep, origin, file, token);
    }
  }
  const runs = ctx.runs.filter((run) => run.figure === name);
  return makeFigure(
    `${name}: Microchatter ÷ raw node:http to disk`,
    runs,
    'attachments',
    'raw-files',
    ATTACHMENT_TARGET,
  );
}

async function writeResults(data: Record<string, unknown>): Promise<string> {
  const dir = path.join(ROOT, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const date = fileStamp();
  const file = path.join(dir, `http-${date}${quick ? '-quick' : ''}${profiling ? '-profile' : ''}.json`);
  await writeFile(file, `${JSON.stringify(data, null, 2)}\n`);
  return path.relative(process.cwd(), file);
}

async function main(): Promise<number> {
  const start = performance.now();
  let db: BenchDatabase | undefined;
  let setup: postgres.Sql | undefined;
  let server: BenchServer | undefined;
  let generator: LoadGenerator | undefined;
  const hellos: HelloServer[] = [];
  const profileDir = profiling ? await mkdtemp(path.join(os.tmpdir(), 'microchatter-bench-profile-')) : '';
  let profile: ProfileSummary | undefined;
  try {
    db = await openBenchDatabase();
    setup = postgres(db.url, { max: 1, onnotice: () => {} });
    const settings = await serverSettings(setup);
    const command = `npm run bench:http${quick || profiling ? ' --' : ''}${quick ? ' --quick' : ''}${profiling ? ' --profile' : ''}`;
    console.log(
      `${command}: ${settings.version.replace(/ on .*/, '')} (${db.where}), ${os.availableParallelism()} CPUs ` +
        `(${os.cpus()[0]?.model ?? 'unknown'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; ` +
        `fsync ${settings.fsync}, synchronous_commit ${settings.synchronous_commit}`,
    );
    if (os.availableParallelism() <= 2) {
      console.log(
        '  note: server, PostgreSQL and load generator share these CPUs; the HTTP side runs one more busy ' +
          'process than the SQL side',
      );
    }

    const chats = await createChats(setup);
    await setup`vacuum analyze`;
    if (profiling) {
      // Time spent per PL/pgSQL function, for connections opened from now on (server, generator).
      await setup.unsafe(`alter database "${new URL(db.url).pathname.slice(1)}" set track_functions = 'pl'`);
      await setup`select pg_stat_reset()`;
    }
    server = await startBenchServer({
      databaseUrl: db.url,
      nodeFlags: profiling ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
    });
    const tokens = await Promise.all(chats.senders.map((sender) => server?.tokenFor(sender) ?? ''));
    hellos.push(await startHelloServer('hono'), await startHelloServer('raw'));
    const rawFilesChild = await spawnNode(path.join(ROOT, 'bench/lib/raw-files.ts'), [], {
      name: 'raw file server',
      ready: /listening on (\S+)/,
    });
    const rawFiles: HelloServer = {
      url: rawFilesChild.ready[1] ?? '',
      pid: rawFilesChild.process.pid ?? 0,
      stop: () => rawFilesChild.stop(),
    };
    hellos.push(rawFiles);
    const [hono, raw] = hellos as [HelloServer, HelloServer];
    generator = startLoadGenerator();

    const [backend] = await setup<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const postgresPids = localPostgresProcesses(db.where, backend?.pid);
    const serverPid = server.pid;
    const generatorPid = generator.pid;
    const ctx: Context = {
      db,
      generator,
      server,
      tokens,
      chats,
      groups: {
        server: () => [serverPid],
        'hello servers': () => [hono.pid, raw.pid],
        'file server': () => [rawFiles.pid],
        postgres: postgresPids,
        generator: () => [generatorPid],
      },
      runs: [],
      waits: waitSampler(setup),
    };

    const figures = [
      ...(await sendFigures(ctx)),
      ...(await helloFigures(ctx, hono, raw)),
      await attachmentFigure(ctx, rawFiles),
    ];
    const [messages] = await setup<{ n: string }[]>`select count(*) as n from chat_private.messages`;

    let functions: FunctionStat[] = [];
    if (profiling) {
      await server.stop();
      server = undefined;
      profile = await summarizeProfileDir(profileDir, 25);
      await setup`select pg_sleep(1)`; // statistics reach the shared view with a short delay
      functions = await setup<FunctionStat[]>`
        select schemaname || '.' || funcname as name, calls::int, round(total_time)::int as total_ms,
               round(self_time)::int as self_ms
        from pg_stat_user_functions order by total_time desc limit 12`;
    }

    console.log('');
    for (const figure of figures) printFigure(figure);
    if (profile) for (const line of profileLines(profile)) console.log(line);
    if (functions.length) {
      console.log(`PL/pgSQL functions over the whole run (${Number(messages?.n ?? 0)} messages sent):`);
      for (const f of functions) {
        console.log(
          `  ${f.name}: ${f.calls} calls, ${f.total_ms} ms total, ${f.self_ms} ms self, ` +
            `${((f.total_ms * 1000) / Math.max(1, f.calls)).toFixed(0)} µs per call`,
        );
      }
    }
    if (profiling)
      console.log('(--profile: the server ran under the profiler, its figures carry that overhead)');

    const file = await writeResults({
      date: new Date().toISOString(),
      command,
      machine: {
        cpus: os.availableParallelism(),
        cpu_model: os.cpus()[0]?.model,
        memory_gib: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        database: db.where,
      },
      settings,
      plan: { ...plan, senders: SENDERS, chats_per_sender: CHATS_PER_SENDER, server_pool: SERVER_POOL },
      statement: SEND_STATEMENT,
      messages_sent: Number(messages?.n ?? 0),
      figures,
      runs: ctx.runs,
      profile,
      functions,
    });
    const out = outFile();
    if (out) {
      await writePartResult(out, {
        part: 'http',
        quick,
        machine: describeMachine(settings.version, db.where),
        figures: figures.map(normalize),
        series: throughputSeries(figures),
      });
    }
    const missed = figures.filter((figure) => figure.met === false).length;
    console.log(
      `${missed ? `${missed} target(s) missed` : 'all targets met'}; results in ${file} ` +
        `(${((performance.now() - start) / 1000).toFixed(0)} s)`,
    );
    return 0;
  } catch (error) {
    console.error(`bench:http failed: ${error instanceof Error ? (error.stack ?? error.message) : error}`);
    return 1;
  } finally {
    await generator?.stop();
    await Promise.all(hellos.map((hello) => hello.stop()));
    await server?.stop();
    await setup?.end();
    await db?.close();
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
