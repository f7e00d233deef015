/**
 * `npm run bench:scale [-- --quick] [-- --out FILE] [-- --parts processes,ceiling] [-- --processes 1,2,4]` (also a part of
 * `npm run bench`): what scaling out on one PostgreSQL buys, and where the single event log stops it.
 *
 * 1. processes: 1, 2 and 4 server processes (server/main.ts, one JWT secret) on one database, every
 *    user holding one stream on process `user index mod P`:
 *    - HTTP sends/s, closed loop, 32 keep-alive connections spread round robin over the processes,
 *      into one busy conversation (a 50-member group, whose members' streams are spread too) and into
 *      many (100 direct conversations);
 *    - send → delivery latency at a fixed rate (open loop), each send going through a process other
 *      than the one holding the recipient's stream (when P > 1): p50 and p99, measured by a receiver in
 *      its own process (arrival − the sender process's send time, bench/lib/events-client.ts);
 *    - events/s through the relays: `microchatter_events_relayed_total` of every process's /metrics
 *      over the many-conversations window (each relay reads every event, so the database serves P reads
 *      of each);
 *    - PostgreSQL client connections the P processes hold.
 *    The 2- and 4-process clusters run again with the pool split (10 ÷ P connections each), and the
 *    smallest and largest with MICROCHATTER_GROUP_COMMIT=false.
 *    Each figure is printed with the CPU use of the servers, PostgreSQL, the clients and the whole
 *    machine (/proc/stat), and the P = 1 figure of the same run as its baseline.
 * 2. ceiling: the single event lock and NOTIFY, at SQL level with no server running: commits/s of
 *    transactions that write one event through chat_private.emit (the advisory lock, the insert, the
 *    NOTIFY trigger) at 1, 8 and 32 clients, beside the same insert without the lock, without NOTIFY,
 *    and without both (the lock is taken out of copies of the functions that take it in the throw-away
 *    database, NOTIFY by disabling its trigger there); chat.send_message into 100 conversations at 16
 *    clients, today vs without lock and NOTIFY; and the same sends in batches of 10 through
 *    chat_server.send_messages (the server's group commit).
 *
 * The harness of the other parts: a throw-away database (bench/lib/database.ts: embedded PostgreSQL,
 * fsync off, or BENCH_DATABASE_URL's server), the load generator process (bench/lib/load.ts), the
 * realtime client processes (bench/lib/events-workers.ts). On this machine's 2 cores the servers,
 * PostgreSQL and the load share the same CPUs: more processes cannot add CPU, and the figures say so.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { type CpuUse, cpuMeter, localPostgresProcesses, machineCpuMs } from './lib/cpu.ts';
import { type BenchDatabase, openBenchDatabase } from './lib/database.ts';
import {
  type EventsClient,
  type PostSpec,
  raiseFileLimit,
  type StreamSpec,
  startEventsClient,
} from './lib/events-workers.ts';
import {
  type HttpRequestSpec,
  type Job,
  type LoadGenerator,
  type LoadResult,
  startLoadGenerator,
} from './lib/load.ts';
import { type BenchServer, startBenchServer } from './lib/microchatter-server.ts';
import { ROOT } from './lib/processes.ts';
import { describeMachine, type Figure, fileStamp, holds, outFile, writePartResult } from './lib/result.ts';
import { type WaitSampler, waitSampler } from './lib/waits.ts';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const PARTS = ['processes', 'ceiling'] as const;
type Part = (typeof PARTS)[number];
const partsAt = argv.indexOf('--parts');
const parts = new Set<Part>(
  partsAt >= 0 ? ((argv[partsAt + 1] ?? '').split(',').filter(Boolean) as Part[]) : PARTS,
);
for (const part of parts)
  if (!PARTS.includes(part)) throw new Error(`unknown part ${part}: ${PARTS.join(', ')}`);

/** `--processes 1,2,4,8`: the cluster sizes to measure (default 1, 2, 4). */
const processesAt = argv.indexOf('--processes');
const processCounts =
  processesAt >= 0
    ? (argv[processesAt + 1] ?? '')
        .split(',')
        .map(Number)
        .filter((n) => Number.isInteger(n) && n > 0)
    : [1, 2, 4];
const plan = quick
  ? {
      processes: processCounts,
      warmupMs: 300,
      durationMs: 1000,
      latencyRate: 200,
      latencyMs: 1000,
      ceilingClients: [1, 8, 32],
      ceilingWarmupMs: 200,
      ceilingMs: 800,
    }
  : {
      processes: processCounts,
      warmupMs: 1000,
      durationMs: 4000,
      latencyRate: 200,
      latencyMs: 4000,
      ceilingClients: [1, 8, 32],
      ceilingWarmupMs: 500,
      ceilingMs: 3000,
    };
const USERS = 200;
const GROUP_MEMBERS = 50;
const CONNECTIONS = 32;
const SENDS_CLIENTS = 16;
/** Sends per chat_server.send_messages call in the ceiling part. */
const BATCH = 10;
const BODY = 'Hello from the scale-out benchmark: a message of typical length, about sixty chars.';
const EVENT_LOCK = /perform\s+pg_advisory_xact_lock\(\s*1296253270\s*,\s*1\s*\)\s*;/;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function machineText(busy: number | undefined): string {
  if (busy === undefined) return 'machine n/a';
  const cpus = os.availableParallelism();
  return `machine ${(busy * 100).toFixed(0)}% busy of ${cpus} CPUs`;
}

/** "servers 61%, postgres 80%, …" in % of one core over the window, then the machine's share. */
function cpuText(use: CpuUse | undefined, seconds: number): string {
  if (!use) return 'CPU n/a';
  const groups = Object.entries(use.byGroup)
    .map(([group, ms]) => `${group} ${((ms / seconds / 1000) * 100).toFixed(0)}%`)
    .join(', ');
  return `CPU of one core: ${groups}; ${machineText(use.machineBusy)}`;
}

const topWaits = (waits: Record<string, number> | undefined, n = 3) =>
  Object.entries(waits ?? {})
    .slice(0, n)
    .map(([event, share]) => `${event} ${(share * 100).toFixed(0)}%`)
    .join(', ');

function figure(spec: Omit<Figure, 'met'>): Figure {
  return spec.target ? { ...spec, met: holds(spec.target, spec.value) } : spec;
}

function printFigure(f: Figure): void {
  const digits = Math.abs(f.value) >= 100 ? 0 : Math.abs(f.value) >= 10 ? 1 : 2;
  const value = `${f.value.toFixed(digits)}${f.unit === '×' ? '×' : ` ${f.unit}`}`;
  const baseline = f.baseline ? ` (baseline ${f.baseline.name}: ${f.baseline.value.toFixed(2)})` : '';
  const target = f.target
    ? ` target ${f.target.op === '<=' ? '≤' : '≥'} ${f.target.value} ${f.met ? '✓' : '✗ MISSED'}`
    : '';
  console.log(`${f.name}: ${value}${baseline}${target}`);
  if (f.note) console.log(`    ${f.note}`);
}

// ---------------------------------------------------------------------------------------------------
// Data: users sc_1…sc_200, a group of the first 50, and 100 direct conversations between pairs.

interface Data {
  users: string[];
  group: number;
  members: string[];
  pairs: { a: number; b: number; conversation: number }[];
}

async function createData(sql: postgres.Sql): Promise<Data> {
  const users = Array.from({ length: USERS }, (_, i) => `sc_${i + 1}`);
  await sql`
    insert into chat_private.users (user_id, display_name)
    select u, 'Scale ' || u from unnest(${sql.array(users)}::text[]) u`;
  const members = users.slice(0, GROUP_MEMBERS);
  const [group] = await sql<{ conversation_id: string }[]>`
    select conversation_id from chat.create_group(${members[0] ?? ''}, 'Scale benchmark', ${sql.array(members.slice(1))})`;
  if (!group) throw new Error('the group was not created');
  const rows = await sql<{ p: number; conversation_id: string }[]>`
    select p, (chat.send_message(actor => 'sc_' || (2 * p + 1), recipient => 'sc_' || (2 * p + 2),
                                body => 'hello')).conversation_id
    from generate_series(0, ${USERS / 2 - 1}::int) p
    order by p`;
  return {
    users,
    members,
    group: Number(group.conversation_id),
    pairs: rows.map((row) => ({ a: 2 * row.p, b: 2 * row.p + 1, conversation: Number(row.conversation_id) })),
  };
}

// ---------------------------------------------------------------------------------------------------
// 1. Processes

interface Cluster {
  servers: BenchServer[];
  tokens: Map<string, string>;
  metricsToken: string;
}

async function startCluster(
  db: BenchDatabase,
  count: number,
  users: string[],
  poolMax: number | undefined,
  groupCommit = true,
): Promise<Cluster> {
  const jwtSecret = randomBytes(32).toString('hex');
  const metricsToken = randomBytes(16).toString('hex');
  const servers: BenchServer[] = [];
  // One after the other: each start compiles TypeScript and would slow the others' starts alike.
  for (let i = 0; i < count; i++) {
    const started = startBenchServer({
      databaseUrl: db.url,
      jwtSecret,
      env: {
        MICROCHATTER_METRICS_TOKEN: metricsToken,
        MICROCHATTER_MAX_STREAMS_PER_USER: '100',
        MICROCHATTER_SSE_HEARTBEAT_MS: '600000',
        ...(poolMax ? { MICROCHATTER_DB_POOL_MAX: String(poolMax) } : {}),
        ...(groupCommit ? {} : { MICROCHATTER_GROUP_COMMIT: 'false' }),
        // One job runner per cluster (its pool holds up to concurrency + 2 connections): with one in
        // every process, 4 processes would need more than max_connections = 100 (docs/scaling.md).
        ...(i > 0 ? { MICROCHATTER_WORKER_CONCURRENCY: '0' } : {}),
      },
    });
    try {
      servers.push(await started);
    } catch (error) {
      await Promise.all(servers.map((server) => server.stop()));
      throw error;
    }
  }
  for (const server of servers) raiseFileLimit(server.pid);
  const tokens = new Map<string, string>();
  const first = servers[0] as BenchServer;
  for (const user of users) tokens.set(user, await first.tokenFor(user));
  return { servers, tokens, metricsToken };
}

async function relayedTotal(cluster: Cluster): Promise<number[]> {
  return Promise.all(
    cluster.servers.map(async (server) => {
      const response = await fetch(`${server.url}/metrics`, {
        headers: { authorization: `Bearer ${cluster.metricsToken}` },
      });
      const text = await response.text();
      const match = /^microchatter_events_relayed_total(?:\{[^}]*\})? ([0-9.e+]+)$/m.exec(text);
      return match ? Number(match[1]) : Number.NaN;
    }),
  );
}

interface ProcessRun {
  processes: number;
  /** MICROCHATTER_DB_POOL_MAX of each process, when not the default 10. */
  poolMax: number | undefined;
  /** false: MICROCHATTER_GROUP_COMMIT=false (each send its own transaction). */
  groupCommit: boolean;
  one: LoadResult & { cpu?: CpuUse; waits?: Record<string, number> };
  many: LoadResult & {
    cpu?: CpuUse;
    waits?: Record<string, number>;
    relayedPerSecond: number;
    relayedByProcess: number[];
  };
  latency: {
    p50: number;
    p99: number;
    max: number;
    delivered: number;
    sent: number;
    perSecond: number;
    sendP50: number;
    sendP99: number;
    cpu?: CpuUse;
  };
  connections: number;
  connectionsByName: string;
}

interface Harness {
  db: BenchDatabase;
  setup: postgres.Sql;
  data: Data;
  generator: LoadGenerator;
  receiver: EventsClient;
  sender: EventsClient;
  waits: WaitSampler;
  postgresPids: () => number[];
}

async function measureLoad(
  h: Harness,
  job: Job,
  groups: Record<string, () => number[]>,
): Promise<LoadResult & { cpu?: CpuUse; waits?: Record<string, number> }> {
  const meter = cpuMeter(groups);
  let waits: Promise<Record<string, number>> | undefined;
  const result = await h.generator.run(job, (phase) => {
    if (phase === 'open') {
      meter.open();
      h.waits.start();
    } else {
      meter.close();
      waits = h.waits.stop();
    }
  });
  const cpu = meter.result();
  return { ...result, ...(cpu ? { cpu } : {}), ...(waits ? { waits: await waits } : {}) };
}

async function processesRun(
  h: Harness,
  count: number,
  poolMax?: number,
  groupCommit = true,
): Promise<ProcessRun> {
  const { data } = h;
  console.log(
    `\n${count} server process${count > 1 ? 'es' : ''} on one database${poolMax ? `, MICROCHATTER_DB_POOL_MAX=${poolMax} each` : ''}${groupCommit ? '' : ', MICROCHATTER_GROUP_COMMIT=false'}`,
  );
  const cluster = await startCluster(h.db, count, data.users, poolMax, groupCommit);
  try {
    const { servers, tokens } = cluster;
    const auth = (user: string) => ({ authorization: `Bearer ${tokens.get(user)}` });
    const processOf = (userIndex: number) => userIndex % count;
    // One stream per user, on process `index mod P`.
    for (const [p, server] of servers.entries()) {
      const specs: StreamSpec[] = data.users.flatMap((user, i) =>
        processOf(i) === p ? [{ user, path: '/events', headers: auth(user) }] : [],
      );
      await h.receiver.open(server.url, specs, 200);
    }
    const groups = {
      servers: () => servers.map((s) => s.pid),
      postgres: h.postgresPids,
      generator: () => [h.generator.pid],
      receiver: () => [h.receiver.pid],
    };
    const origins = servers.map((s) => s.url);
    const post = (user: string, body: unknown): HttpRequestSpec => ({
      method: 'POST',
      path: '/rpc/send_message',
      headers: { ...auth(user), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const timing = { warmupMs: plan.warmupMs, durationMs: plan.durationMs };

    // One busy conversation: loop c sends as members c, c + 32, … into the group.
    const oneLoops = Array.from({ length: CONNECTIONS }, (_, c) =>
      data.members
        .filter((_, i) => i % CONNECTIONS === c)
        .map((user) => post(user, { conversation_id: data.group, body: BODY })),
    );
    const one = await measureLoad(
      h,
      { kind: 'http', origin: origins[0] ?? '', origins, loops: oneLoops, ...timing },
      groups,
    );
    console.log(
      `  one conversation (${GROUP_MEMBERS} members, streams on ${count}), ${CONNECTIONS} connections: ` +
        `${one.perSecond.toFixed(0)} sends/s, p50 ${one.latency.p50.toFixed(1)} ms, p99 ${one.latency.p99.toFixed(1)} ms; ` +
        `${cpuText(one.cpu, one.seconds)}; waits ${topWaits(one.waits)}`,
    );

    // Many conversations: loop c cycles through the pairs p ≡ c (mod 32), both directions.
    const manyLoops = Array.from({ length: CONNECTIONS }, (_, c) =>
      data.pairs
        .filter((_, p) => p % CONNECTIONS === c)
        .flatMap((pair) => [
          post(data.users[pair.a] ?? '', { conversation_id: pair.conversation, body: BODY }),
          post(data.users[pair.b] ?? '', { conversation_id: pair.conversation, body: BODY }),
        ]),
    );
    let before: number[] = [];
    let after: number[] = [];
    let windowStart = 0;
    let windowEnd = 0;
    const meter = cpuMeter(groups);
    let waits: Promise<Record<string, number>> | undefined;
    // The metrics are read at the window's edges (a scrape is a few ms; it falls inside the window).
    const manyResult = await h.generator.run(
      { kind: 'http', origin: origins[0] ?? '', origins, loops: manyLoops, ...timing },
      (phase) => {
        if (phase === 'open') {
          meter.open();
          h.waits.start();
          windowStart = performance.now();
          void relayedTotal(cluster).then((x) => {
            before = x;
          });
        } else {
          meter.close();
          waits = h.waits.stop();
          windowEnd = performance.now();
          void relayedTotal(cluster).then((x) => {
            after = x;
          });
        }
      },
    );
    while (after.length === 0 || before.length === 0) await sleep(10);
    const relayedByProcess = after.map((x, i) => x - (before[i] ?? 0));
    const relayedPerSecond = relayedByProcess.reduce((a, b) => a + b, 0) / ((windowEnd - windowStart) / 1000);
    const manyCpu = meter.result();
    const many = {
      ...manyResult,
      ...(manyCpu ? { cpu: manyCpu } : {}),
      ...(waits ? { waits: await waits } : {}),
      relayedPerSecond,
      relayedByProcess,
    };
    console.log(
      `  ${data.pairs.length} conversations, ${CONNECTIONS} connections: ${many.perSecond.toFixed(0)} sends/s, ` +
        `p50 ${many.latency.p50.toFixed(1)} ms, p99 ${many.latency.p99.toFixed(1)} ms; relays ${relayedPerSecond.toFixed(0)} ` +
        `events/s (${relayedByProcess.join(' + ')} in the window); ${cpuText(many.cpu, many.seconds)}; waits ${topWaits(many.waits)}`,
    );

    // Latency at a fixed rate, each send through a process other than the recipient's.
    await sleep(300);
    const latencyCount = Math.round((plan.latencyRate * plan.latencyMs) / 1000);
    const specsVia = (prefix: string, total: number) => {
      const byProcess: PostSpec[][] = servers.map(() => []);
      for (let i = 0; i < total; i++) {
        const pair = data.pairs[i % data.pairs.length];
        if (!pair) throw new Error('no pairs');
        const forward = Math.floor(i / data.pairs.length) % 2 === 0;
        const [from, to] = forward ? [pair.a, pair.b] : [pair.b, pair.a];
        const via = (processOf(to) + 1) % count;
        byProcess[via]?.push({
          path: '/rpc/send_message',
          headers: auth(data.users[from] ?? ''),
          body: JSON.stringify({
            conversation_id: pair.conversation,
            body: `bench|${prefix}-${i}|{t}|${data.users[to]}`,
          }),
        });
      }
      return byProcess;
    };
    const atRate = (byProcess: PostSpec[][]) =>
      Promise.all(
        byProcess.map((specs, p) =>
          specs.length
            ? h.sender.rate(
                servers[p]?.url ?? '',
                specs,
                (plan.latencyRate * specs.length) / latencyCount,
                Math.max(2, Math.ceil(16 / count)),
              )
            : Promise.resolve(undefined),
        ),
      );
    await atRate(specsVia(`warm${count}`, Math.round(plan.latencyRate / 2)));
    const prefix = `lat${count}`;
    const latencyMeter = cpuMeter({ ...groups, sender: () => [h.sender.pid] });
    latencyMeter.open();
    const started = performance.now();
    const sent = (await atRate(specsVia(prefix, latencyCount))).filter((x) => x !== undefined);
    const seconds = (performance.now() - started) / 1000;
    const { samples } = await h.receiver.latencies(prefix, latencyCount);
    latencyMeter.close();
    const sendMs = sent.map((s) => s.sendP50);
    const latency = {
      p50: percentile(samples, 0.5),
      p99: percentile(samples, 0.99),
      max: Math.max(...samples),
      delivered: samples.length,
      sent: sent.reduce((a, s) => a + s.sent, 0),
      perSecond: sent.reduce((a, s) => a + s.sent, 0) / seconds,
      sendP50: Math.max(...sendMs),
      sendP99: Math.max(...sent.map((s) => s.sendP99)),
      ...(latencyMeter.result() ? { cpu: latencyMeter.result() } : {}),
    };
    console.log(
      `  delivery @${plan.latencyRate}/s across processes: ${latency.delivered}/${latencyCount} delivered, p50 ` +
        `${latency.p50.toFixed(2)} ms, p99 ${latency.p99.toFixed(1)} ms, max ${latency.max.toFixed(1)} ms (HTTP answer p50 ≤ ` +
        `${latency.sendP50.toFixed(2)} ms); ${cpuText(latency.cpu, seconds)}`,
    );
    const held = await h.setup<{ name: string; n: number }[]>`
      select coalesce(nullif(application_name, ''), '(server pool and LISTEN)') as name, count(*)::int as n
      from pg_stat_activity
      where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid()
        and application_name not like 'bench%'
      group by 1 order by 1`;
    const conn = { n: held.reduce((sum, row) => sum + row.n, 0) };
    const heldText = held.map((row) => `${row.name} ${row.n}`).join(', ');
    console.log(
      `  PostgreSQL client connections held by the ${count} process(es) after the load: ${conn.n} (${heldText})`,
    );
    return {
      processes: count,
      poolMax,
      groupCommit,
      one,
      many,
      latency,
      connections: conn.n,
      connectionsByName: heldText,
    };
  } finally {
    await h.receiver.closeAll();
    await Promise.all(cluster.servers.map((server) => server.stop()));
  }
}

function processFigures(runs: ProcessRun[]): {
  figures: Figure[];
  series: Record<string, { x: number; y: number }[]>;
} {
  const figures: Figure[] = [];
  const base = runs.find((r) => r.processes === 1 && r.poolMax === undefined && r.groupCommit);
  const busy = (cpu: CpuUse | undefined) => machineText(cpu?.machineBusy);
  const cpuNote = (cpu: CpuUse | undefined, seconds: number) => cpuText(cpu, seconds);
  for (const run of runs) {
    const p = run.processes;
    const label = `${p} process${p > 1 ? 'es' : ''}${run.poolMax ? ` of pool ${run.poolMax}` : ''}${run.groupCommit ? '' : ', group commit off'}`;
    const withBase = (pick: (r: ProcessRun) => number, unit: string) =>
      p > 1 && base ? { baseline: { name: `1 process, ${unit}`, value: pick(base) } } : {};
    figures.push(
      figure({
        name: `HTTP sends/s, one conversation (${GROUP_MEMBERS} members), ${CONNECTIONS} connections over ${label}`,
        value: run.one.perSecond,
        unit: 'sends/s',
        ...withBase((r) => r.one.perSecond, 'sends/s'),
        note: `p50 ${run.one.latency.p50.toFixed(1)} ms, p99 ${run.one.latency.p99.toFixed(1)} ms; ${cpuNote(run.one.cpu, run.one.seconds)}; waits ${topWaits(run.one.waits)}`,
      }),
      figure({
        name: `HTTP sends/s, ${USERS / 2} conversations, ${CONNECTIONS} connections over ${label}`,
        value: run.many.perSecond,
        unit: 'sends/s',
        ...withBase((r) => r.many.perSecond, 'sends/s'),
        note: `p50 ${run.many.latency.p50.toFixed(1)} ms, p99 ${run.many.latency.p99.toFixed(1)} ms; ${cpuNote(run.many.cpu, run.many.seconds)}; waits ${topWaits(run.many.waits)}`,
      }),
      figure({
        name: `events/s through the relays of ${label} (${USERS / 2} conversations' sends)`,
        value: run.many.relayedPerSecond,
        unit: 'events/s',
        ...withBase((r) => r.many.relayedPerSecond, 'events/s'),
        note: `each relay reads every event: per process ${run.many.relayedByProcess.join(', ')} events in the window; ${busy(run.many.cpu)}`,
      }),
      figure({
        name: `send → delivery p99 @${plan.latencyRate}/s, streams over ${label}${p > 1 ? ', sent through another process' : ''}`,
        value: run.latency.p99,
        unit: 'ms',
        ...withBase((r) => r.latency.p99, 'p99 ms'),
        note:
          `p50 ${run.latency.p50.toFixed(2)} ms, max ${run.latency.max.toFixed(1)} ms, ${run.latency.delivered} of ` +
          `${run.latency.sent} delivered at ${run.latency.perSecond.toFixed(0)}/s; measured by the receiver process; ` +
          `${busy(run.latency.cpu)}; PostgreSQL connections held: ${run.connections} (${run.connectionsByName})`,
      }),
    );
  }
  const plain = runs.filter((r) => r.poolMax === undefined && r.groupCommit);
  const series = {
    'scale-out: sends/s, one conversation': plain.map((r) => ({
      x: r.processes,
      y: Math.round(r.one.perSecond),
    })),
    [`scale-out: sends/s, ${USERS / 2} conversations`]: plain.map((r) => ({
      x: r.processes,
      y: Math.round(r.many.perSecond),
    })),
    'scale-out: events/s through the relays': plain.map((r) => ({
      x: r.processes,
      y: Math.round(r.many.relayedPerSecond),
    })),
  };
  return { figures, series };
}

// ---------------------------------------------------------------------------------------------------
// 2. The ceiling of the event lock and NOTIFY

type Variant = 'today' | 'no-lock' | 'no-notify' | 'neither';
const VARIANT_NAME: Record<Variant, string> = {
  today: 'emit: lock + insert + NOTIFY (today)',
  'no-lock': 'insert + NOTIFY, no lock',
  'no-notify': 'lock + insert, no NOTIFY',
  neither: 'insert only (no lock, no NOTIFY)',
};

/** Functions that take the event lock, as `create or replace` statements. */
type Definitions = string[];

async function withVariant<T>(
  sql: postgres.Sql,
  originals: Definitions,
  variant: Variant,
  work: () => Promise<T>,
): Promise<T> {
  if (variant === 'no-lock' || variant === 'neither') {
    for (const def of originals)
      await sql.unsafe(def.replace(EVENT_LOCK, '-- (lock taken out by bench/scale.ts)'));
  }
  if (variant === 'no-notify' || variant === 'neither')
    await sql`alter table chat_private.events disable trigger notify_events`;
  try {
    return await work();
  } finally {
    for (const def of originals) await sql.unsafe(def);
    await sql`alter table chat_private.events enable trigger notify_events`;
  }
}

async function ceiling(h: Harness, figures: Figure[], details: Record<string, unknown>): Promise<void> {
  const { setup: sql } = h;
  // Wherever the event lock is taken (chat_private.emit today), as a `perform` statement.
  const found = await sql<{ name: string; def: string }[]>`
    select p.oid::regprocedure::text as name, pg_get_functiondef(p.oid) as def from pg_proc p
    where p.pronamespace in ('chat_private'::regnamespace, 'chat_server'::regnamespace)
      and p.prosrc like '%1296253270%'`;
  const emit: { defs: Definitions } = { defs: found.map((row) => row.def) };
  if (found.length === 0 || !found.every((row) => EVENT_LOCK.test(row.def))) {
    console.log(
      `\nceiling: the event lock is not taken as bench/scale.ts knows it (${found.map((r) => r.name).join(', ') || 'nowhere'}); part skipped`,
    );
    details.ceiling = 'skipped: the event lock changed';
    return;
  }
  console.log(`\n(the event lock is taken in ${found.map((row) => row.name).join(', ')})`);
  const [settings] = await sql<{ fsync: string; sc: string }[]>`
    select current_setting('fsync') as fsync, current_setting('synchronous_commit') as sc`;
  console.log(
    `\nceiling of the event lock and NOTIFY (SQL, no server running; fsync ${settings?.fsync}, synchronous_commit ${settings?.sc})`,
  );
  const groups = { postgres: h.postgresPids, generator: () => [h.generator.pid] };
  const runs: Record<
    string,
    { perSecond: number; p99: number; cpu?: CpuUse; waits?: Record<string, number> }
  > = {};
  const variants: Variant[] = ['today', 'no-lock', 'no-notify', 'neither'];
  for (const clients of plan.ceilingClients) {
    for (const variant of variants) {
      const result = await withVariant(sql, emit.defs, variant, () =>
        measureLoad(
          h,
          {
            kind: 'sql',
            url: h.db.url,
            // One event per transaction, to one of the users, as a direct message's event would be.
            statement: `select chat_private.emit('bench.ceiling', array[$1::text], '{"bench":true}'::jsonb)`,
            prepare: true,
            loops: Array.from({ length: clients }, (_, c) => [[h.data.users[c % USERS] ?? 'sc_1']]),
            warmupMs: plan.ceilingWarmupMs,
            durationMs: plan.ceilingMs,
          },
          groups,
        ),
      );
      runs[`${variant} ${clients}`] = {
        perSecond: result.perSecond,
        p99: result.latency.p99,
        ...(result.cpu ? { cpu: result.cpu } : {}),
        ...(result.waits ? { waits: result.waits } : {}),
      };
      console.log(
        `  ${clients} client(s), ${VARIANT_NAME[variant]}: ${result.perSecond.toFixed(0)} commits/s, p50 ` +
          `${result.latency.p50.toFixed(2)} ms, p99 ${result.latency.p99.toFixed(1)} ms; ${cpuText(result.cpu, result.seconds)}; ` +
          `waits ${topWaits(result.waits)}`,
      );
    }
  }
  for (const clients of plan.ceilingClients) {
    const today = runs[`today ${clients}`];
    const neither = runs[`neither ${clients}`];
    if (!today || !neither) continue;
    const noLock = runs[`no-lock ${clients}`]?.perSecond ?? Number.NaN;
    const noNotify = runs[`no-notify ${clients}`]?.perSecond ?? Number.NaN;
    figures.push(
      figure({
        name: `event-writing commits/s, ${clients} client${clients > 1 ? 's' : ''}: lock + NOTIFY (today) ÷ neither`,
        value: today.perSecond / neither.perSecond,
        unit: '×',
        baseline: { name: 'insert without the lock and NOTIFY, commits/s', value: neither.perSecond },
        note:
          `today ${today.perSecond.toFixed(0)}/s (p99 ${today.p99.toFixed(1)} ms, waits ${topWaits(today.waits)}); ` +
          `without the lock ${noLock.toFixed(0)}/s; without NOTIFY ${noNotify.toFixed(0)}/s; ${machineText(today.cpu?.machineBusy)}; ` +
          `fsync ${settings?.fsync}, synchronous_commit ${settings?.sc}`,
      }),
    );
  }

  // Whole sends at SQL level, many conversations: what a cluster of any size shares.
  console.log(`  chat.send_message into ${h.data.pairs.length} conversations, ${SENDS_CLIENTS} clients:`);
  const sendRuns: Partial<Record<Variant, LoadResult & { cpu?: CpuUse; waits?: Record<string, number> }>> =
    {};
  for (const variant of ['today', 'neither'] as const) {
    const loops = Array.from({ length: SENDS_CLIENTS }, (_, c) =>
      h.data.pairs
        .filter((_, p) => p % SENDS_CLIENTS === c)
        .flatMap((pair) => [
          [h.data.users[pair.a] ?? '', pair.conversation, BODY],
          [h.data.users[pair.b] ?? '', pair.conversation, BODY],
        ]),
    );
    const result = await withVariant(sql, emit.defs, variant, () =>
      measureLoad(
        h,
        {
          kind: 'sql',
          url: h.db.url,
          statement: `select * from chat.send_message(actor => $1::text, conversation_id => $2::bigint, body => $3::text)`,
          prepare: true,
          loops,
          warmupMs: plan.ceilingWarmupMs,
          durationMs: plan.ceilingMs,
        },
        groups,
      ),
    );
    sendRuns[variant] = result;
    console.log(
      `    ${VARIANT_NAME[variant]}: ${result.perSecond.toFixed(0)} sends/s, p50 ${result.latency.p50.toFixed(2)} ms, ` +
        `p99 ${result.latency.p99.toFixed(1)} ms; ${cpuText(result.cpu, result.seconds)}; waits ${topWaits(result.waits)}`,
    );
  }
  const today = sendRuns.today;
  const neither = sendRuns.neither;
  if (today && neither) {
    figures.push(
      figure({
        name: `SQL sends/s, ${h.data.pairs.length} conversations, ${SENDS_CLIENTS} clients: today ÷ without the event lock and NOTIFY`,
        value: today.perSecond / neither.perSecond,
        unit: '×',
        baseline: { name: 'without the event lock and NOTIFY, sends/s', value: neither.perSecond },
        note:
          `today ${today.perSecond.toFixed(0)}/s (p99 ${today.latency.p99.toFixed(1)} ms, waits ${topWaits(today.waits)}); ` +
          `${machineText(today.cpu?.machineBusy)}; fsync ${settings?.fsync}, synchronous_commit ${settings?.sc}`,
      }),
    );
  }

  // The same sends in batches (the server's group commit): one lock, one NOTIFY, one flush per batch.
  const [batchFunction] = await sql<{ present: boolean }[]>`
    select to_regprocedure('chat_server.send_messages(jsonb)') is not null as present`;
  const batchRuns: Partial<Record<Variant, LoadResult & { cpu?: CpuUse; waits?: Record<string, number> }>> =
    {};
  if (batchFunction?.present) {
    console.log(`  chat_server.send_messages, batches of ${BATCH} sends, ${SENDS_CLIENTS} clients:`);
    for (const variant of ['today', 'neither'] as const) {
      const loops = Array.from({ length: SENDS_CLIENTS }, (_, c) => {
        const mine = h.data.pairs.filter((_, p) => p % SENDS_CLIENTS === c);
        return Array.from({ length: 4 }, (_, b) => [
          JSON.stringify(
            Array.from({ length: BATCH }, (_, k) => {
              const pair = mine[(b * BATCH + k) % mine.length] ?? h.data.pairs[0];
              const actor = (b * BATCH + k) % 2 ? pair?.b : pair?.a;
              return { actor: h.data.users[actor ?? 0], conversation_id: pair?.conversation, body: BODY };
            }),
          ),
        ]);
      });
      const result = await withVariant(sql, emit.defs, variant, () =>
        measureLoad(
          h,
          {
            kind: 'sql',
            url: h.db.url,
            statement: 'select chat_server.send_messages($1::text::jsonb)',
            prepare: true,
            loops,
            warmupMs: plan.ceilingWarmupMs,
            durationMs: plan.ceilingMs,
          },
          groups,
        ),
      );
      batchRuns[variant] = result;
      console.log(
        `    ${VARIANT_NAME[variant]}: ${(result.perSecond * BATCH).toFixed(0)} sends/s in ${result.perSecond.toFixed(0)} ` +
          `batches/s, p50 ${result.latency.p50.toFixed(2)} ms a batch; ${cpuText(result.cpu, result.seconds)}; waits ${topWaits(result.waits)}`,
      );
    }
    const batched = batchRuns.today;
    if (batched && today) {
      figures.push(
        figure({
          name: `SQL sends/s, ${SENDS_CLIENTS} clients: batches of ${BATCH} (chat_server.send_messages) ÷ one send a transaction`,
          value: (batched.perSecond * BATCH) / today.perSecond,
          unit: '×',
          baseline: { name: 'one send a transaction (chat.send_message), sends/s', value: today.perSecond },
          note:
            `batched ${(batched.perSecond * BATCH).toFixed(0)} sends/s (${batched.perSecond.toFixed(0)} event-writing commits/s, ` +
            `waits ${topWaits(batched.waits)}); batched without the lock and NOTIFY ` +
            `${((batchRuns.neither?.perSecond ?? Number.NaN) * BATCH).toFixed(0)} sends/s; ${machineText(batched.cpu?.machineBusy)}`,
        }),
      );
    }
  } else {
    console.log('  chat_server.send_messages is not there: batches not measured');
  }
  details.ceiling = { runs, sends: sendRuns, batches: batchRuns, batchSize: BATCH, settings };
}

// ---------------------------------------------------------------------------------------------------

/** The commit measured, and whether the working tree had changes on top of it. */
function gitCommit(): string | undefined {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? ' + uncommitted changes' : ''}`;
  } catch {
    return undefined;
  }
}

async function main(): Promise<number> {
  const started = performance.now();
  let db: BenchDatabase | undefined;
  let setup: postgres.Sql | undefined;
  let generator: LoadGenerator | undefined;
  const clients: EventsClient[] = [];
  try {
    db = await openBenchDatabase();
    setup = postgres(db.url, { max: 2, onnotice: () => {}, connection: { application_name: 'bench scale' } });
    const [info] = await setup<{ version: string; fsync: string; backend: number }[]>`
      select current_setting('server_version') as version, current_setting('fsync') as fsync, pg_backend_pid() as backend`;
    const command = `npm run bench:scale${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
    console.log(
      `${command}: PostgreSQL ${info?.version} (${db.where}, fsync ${info?.fsync}), ${os.availableParallelism()} CPUs ` +
        `(${os.cpus()[0]?.model ?? 'unknown'}), load average ${os.loadavg()[0]?.toFixed(1)}`,
    );
    const idle0 = machineCpuMs();
    await sleep(1000);
    const idle1 = machineCpuMs();
    const background = idle0 && idle1 ? (idle1.busy - idle0.busy) / (idle1.total - idle0.total) : undefined;
    console.log(`  before the run (other work), 1 s: ${machineText(background)}`);

    const data = await createData(setup);
    await setup`vacuum analyze`;
    generator = startLoadGenerator();
    const receiver = startEventsClient('receiver');
    const sender = startEventsClient('sender');
    clients.push(receiver, sender);
    raiseFileLimit(receiver.pid);
    const h: Harness = {
      db,
      setup,
      data,
      generator,
      receiver,
      sender,
      waits: waitSampler(setup, 25),
      postgresPids: localPostgresProcesses(db.where, info?.backend),
    };

    const figures: Figure[] = [];
    const details: Record<string, unknown> = { machineBusyBefore: background, loadAverage: os.loadavg()[0] };
    let series: Record<string, { x: number; y: number }[]> = {};
    if (parts.has('processes')) {
      const runs: ProcessRun[] = [];
      const failed: { processes: number; poolMax: number | undefined; error: string }[] = [];
      // A cluster that cannot run (e.g. more connections than max_connections) is a result too.
      const attempt = async (count: number, poolMax?: number, groupCommit = true) => {
        try {
          runs.push(await processesRun(h, count, poolMax, groupCommit));
        } catch (error) {
          const message = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
          console.log(`  ${count} processes${poolMax ? ` of pool ${poolMax}` : ''} FAILED: ${message}`);
          failed.push({ processes: count, poolMax, error: message });
          await h.receiver.closeAll().catch(() => undefined);
        }
      };
      for (const count of processCounts) await attempt(count);
      // The same database connections in all as one process (10): is it the processes or the pool?
      for (const count of processCounts.filter((n) => n > 1)) await attempt(count, Math.ceil(10 / count));
      // What the server's group commit does for the busy conversation: the smallest and largest cluster without it.
      for (const count of new Set([Math.min(...processCounts), Math.max(...processCounts)])) {
        await attempt(count, undefined, false);
      }
      const out = processFigures(runs);
      figures.push(...out.figures);
      for (const f of failed) {
        figures.push({
          name: `${f.processes} processes${f.poolMax ? ` of pool ${f.poolMax}` : ''} on one database: could not run`,
          value: Number.NaN,
          unit: 'sends/s',
          note: f.error,
        });
      }
      series = out.series;
      details.processes = runs;
      details.failed = failed;
    }
    if (parts.has('ceiling')) await ceiling(h, figures, details);

    console.log('');
    for (const f of figures) printFigure(f);
    const machine = describeMachine(info?.version ?? 'unknown', db.where);
    const dir = path.join(ROOT, 'bench', 'results');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `scale-${fileStamp()}${quick ? '-quick' : ''}.json`);
    const result = {
      part: 'scale',
      quick,
      machine,
      command,
      commit: gitCommit(),
      plan,
      figures,
      series,
      details,
    };
    await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
    const out = outFile();
    if (out) await writePartResult(out, { part: 'scale', quick, machine, figures, series });
    console.log(
      `results in ${path.relative(process.cwd(), file)} (${((performance.now() - started) / 1000).toFixed(0)} s)`,
    );
    return 0;
  } catch (error) {
    console.error(`bench:scale failed: ${error instanceof Error ? (error.stack ?? error.message) : error}`);
    return 1;
  } finally {
    await Promise.all(clients.map((client) => client.stop()));
    await generator?.stop();
    await setup?.end();
    await db?.close();
  }
}

process.exitCode = await main();
