/**
 * `npm run bench:send [-- --quick]`: the send path into one busy conversation (50 senders in one
 * group), each figure against a baseline measured in the same run.
 *
 * 1. One connection: HTTP send p50 minus the same SQL call's p50 (`chat.send_message` from the
 *    `postgres` client, one connection): what the server adds to a send. Target ≤ 0.5 ms. No event
 *    stream is open on the servers, so their relays read nothing (server/events/relay.ts); the same
 *    figure with one stream open, whose relay then reads every send's event, is printed beside it,
 *    and the figure with a second, idle server process on the database, whose relay wakes on every
 *    commit as well.
 * 2. Server CPU per HTTP send ÷ server CPU per `GET /healthz` (one connection each). Target ≤ 3.
 * 3. HTTP sends/s at 50 and at 10 connections ÷ serial SQL sends/s (one client calling
 *    chat.send_message one after the other). Targets ≥ 1.0 and ≥ 0.9. Printed with group commit
 *    (server/send-batch.ts, the default) and, for reference, without it (MICROCHATTER_GROUP_COMMIT=false).
 *
 * Everything runs twice: on a durable cluster (fsync and synchronous commit on, as production runs)
 * and on the benchmarks' usual fsync-off cluster (the SQL's cost without the disk's). One server runs
 * at a time: the one with group commit for every cell but 'http 50 alone', then the one without it
 * (useServer). Servers and the load generator are separate processes (bench/lib); CPU time per call
 * is read from /proc for every timed window, and the machine's busy share is printed beside it.
 *
 * Writes bench/results/send-<date>.json (with `--out FILE`, also the suite's schema, bench/lib/result.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { cpuMeter, localPostgresProcesses } from './lib/cpu.ts';
import { type BenchDatabase, openBenchDatabase } from './lib/database.ts';
import { type Job, type LoadGenerator, type LoadResult, startLoadGenerator } from './lib/load.ts';
import { type BenchServer, startBenchServer } from './lib/microchatter-server.ts';
import { ROOT } from './lib/processes.ts';
import { describeMachine, type Figure, fileStamp, outFile, writePartResult } from './lib/result.ts';
import { createSenderGroup, SEND_STATEMENT } from './lib/sends.ts';
import { median } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const plan = quick
  ? { warmupMs: 300, durationMs: 1000, reps: 1 }
  : // Five shorter rounds rather than three long ones: the machine's state between rounds, not the
    // samples within one, is what moves a median (single windows range over ±50 % here).
    { warmupMs: 1000, durationMs: 2000, reps: 5 };
const SENDERS = 50;
const BODY = 'Hello from the send benchmark, about as long as a short chat line.';

type Cell =
  | 'sql 1'
  | 'sql 10'
  | 'http 1'
  | 'http 1 streaming'
  | 'http 1 beside'
  | 'http 10'
  | 'http 50'
  | 'http 50 alone'
  | 'healthz 1';
const cells: Cell[] = [
  'sql 1',
  'http 1',
  'healthz 1',
  'http 1 streaming',
  'http 1 beside',
  'sql 10',
  'http 10',
  'http 50',
  'http 50 alone',
];

/** Every cell runs on the server with group commit but one, which runs on the server without it. */
const onGroupCommit = (cell: Cell) => cell !== 'http 50 alone';

interface Measured {
  perSecond: number;
  p50: number;
  p99: number;
  /** Server (or, for SQL cells, Postgres) CPU µs per call. */
  serverUs: number;
  postgresUs: number;
  busy: number;
}

interface Setup {
  name: string;
  db: BenchDatabase;
  /** The one server running: with group commit, or without it for 'http 50 alone' (useServer). */
  server?: BenchServer;
  groupCommit: boolean;
  /** The senders' tokens for that server. */
  tokens: string[];
  senders: string[];
  conversation: number;
  postgresPids: () => number[];
  fsync: string;
}

async function openSetup(name: string, durable: boolean): Promise<Setup> {
  const db = await openBenchDatabase({ durable });
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    const { senders, conversation } = await createSenderGroup(sql, SENDERS, 'send benchmark');
    const [settings] = await sql<{ fsync: string; pid: number }[]>`
      select current_setting('fsync') as fsync, pg_backend_pid() as pid`;
    return {
      name,
      db,
      groupCommit: true,
      tokens: [],
      senders,
      conversation,
      postgresPids: localPostgresProcesses(db.where, settings?.pid),
      fsync: settings?.fsync ?? '?',
    };
  } catch (error) {
    await db.close();
    throw error;
  } finally {
    await sql.end();
  }
}

/**
 * One server at a time: a second one, idle, still wakes on every commit (its relay LISTENs), and on
 * two CPUs that wake-up can land on the measured send's path (durable one-connection gap, paired rounds
 * of a probe: 0.49 ms alone, 0.84 ms with an idle second server beside; in this bench's own 'http 1
 * beside' cell, 0.54 against 0.46 in one run, 0.40 against 0.39 in the next).
 */
async function useServer(setup: Setup, groupCommit: boolean): Promise<void> {
  await setup.server?.stop();
  setup.server = undefined;
  const server = await startBenchServer({
    databaseUrl: setup.db.url,
    env: groupCommit ? {} : { MICROCHATTER_GROUP_COMMIT: 'false' },
  });
  setup.server = server;
  setup.groupCommit = groupCommit;
  setup.tokens = await Promise.all(setup.senders.map((s) => server.tokenFor(s)));
}

function serverOf(setup: Setup): BenchServer {
  if (!setup.server) throw new Error('no server is running');
  return setup.server;
}

async function closeSetup(setup: Setup): Promise<void> {
  await setup.server?.stop();
  await setup.db.close();
}

/**
 * The servers' connections plan their statements once and keep the plan: planned on the empty tables
 * of a new database, a lookup of one message by key becomes a scan of the whole table, slower with
 * every message. Analyzing (what autovacuum does after the first 50 or so rows) makes them plan again.
 */
async function analyzeGrownTables(setup: Setup): Promise<void> {
  const sql = postgres(setup.db.url, { max: 1, onnotice: () => {} });
  try {
    await sql`analyze chat_private.messages, chat_private.events, chat_private.pending_events,
      chat_private.memberships, chat_private.conversations`;
  } finally {
    await sql.end();
  }
}

/** Loop c acts as senders c, c+N, c+2N…: every sender sends at every concurrency. */
function sendersOf(setup: Setup, loops: number): number[][] {
  return Array.from({ length: loops }, (_, c) =>
    setup.senders.flatMap((_, i) => (i % loops === c ? [i] : [])),
  );
}

function jobFor(setup: Setup, cell: Cell): { job: Job; server?: BenchServer } {
  const [kind, count] = cell.split(' ') as [string, string];
  // 'http 1 streaming' is the one-connection send with an event stream open on the server, 'http 1
  // beside' the same with a second, idle server process on the database (measure starts it).
  const loops = Number(count);
  const timing = { warmupMs: plan.warmupMs, durationMs: plan.durationMs };
  if (kind === 'sql') {
    return {
      job: {
        kind: 'sql',
        url: setup.db.url,
        statement: SEND_STATEMENT,
        prepare: true,
        ...timing,
        loops: sendersOf(setup, loops).map((mine) =>
          mine.map((i) => [setup.senders[i] ?? '', setup.conversation, BODY]),
        ),
      },
    };
  }
  const server = serverOf(setup);
  if (setup.groupCommit !== onGroupCommit(cell)) throw new Error(`${cell} runs on the other server`);
  const tokens = setup.tokens;
  if (kind === 'healthz') {
    return {
      server,
      job: { kind: 'http', origin: server.url, ...timing, loops: [[{ method: 'GET', path: '/healthz' }]] },
    };
  }
  const body = JSON.stringify({ conversation_id: setup.conversation, body: BODY });
  return {
    server,
    job: {
      kind: 'http',
      origin: server.url,
      ...timing,
      loops: sendersOf(setup, loops).map((mine) =>
        mine.map((i) => ({
          method: 'POST' as const,
          path: '/rpc/send_message',
          headers: { authorization: `Bearer ${tokens[i]}`, 'content-type': 'application/json' },
          body,
        })),
      ),
    },
  };
}

/**
 * An event stream of the group's last member on the server, read and discarded: with it the relay
 * reads every send's event (a process with no stream reads none, server/events/relay.ts).
 */
async function openStream(setup: Setup): Promise<() => void> {
  const stop = new AbortController();
  const response = await fetch(`${serverOf(setup).url}/events`, {
    headers: { authorization: `Bearer ${setup.tokens[SENDERS - 1]}` },
    signal: stop.signal,
  });
  if (!response.ok || !response.body) throw new Error(`GET /events answered ${response.status}`);
  const reader = response.body.getReader();
  void (async () => {
    for (;;) if ((await reader.read()).done) return;
  })().catch(() => undefined);
  return () => stop.abort();
}

async function measure(generator: LoadGenerator, setup: Setup, cell: Cell): Promise<Measured> {
  const { job, server } = jobFor(setup, cell);
  const closeStream = cell === 'http 1 streaming' ? await openStream(setup) : undefined;
  const beside = cell === 'http 1 beside' ? await startBenchServer({ databaseUrl: setup.db.url }) : undefined;
  const meter = cpuMeter({
    server: () => [(server ?? serverOf(setup)).pid],
    postgres: setup.postgresPids,
  });
  let result: LoadResult;
  try {
    result = await generator.run(job, (phase) => (phase === 'open' ? meter.open() : meter.close()));
  } finally {
    closeStream?.();
    await beside?.stop();
  }
  const cpu = meter.result();
  const perCall = (group: string) => ((cpu?.byGroup[group] ?? 0) * 1000) / Math.max(1, result.completed);
  const measured = {
    perSecond: result.perSecond,
    p50: result.latency.p50,
    p99: result.latency.p99,
    serverUs: perCall('server'),
    postgresUs: perCall('postgres'),
    busy: cpu?.machineBusy ?? Number.NaN,
  };
  console.log(
    `  ${setup.name} · ${cell}: ${Math.round(measured.perSecond)}/s, p50 ${measured.p50.toFixed(2)} ms, ` +
      `p99 ${measured.p99.toFixed(2)} ms; CPU µs per call: server ${Math.round(measured.serverUs)}, ` +
      `postgres ${Math.round(measured.postgresUs)}; CPUs ${Math.round(measured.busy * 100)}% busy`,
  );
  return measured;
}

function figuresOf(setup: Setup, runs: Map<Cell, Measured[]>): Figure[] {
  const m = (cell: Cell, key: keyof Measured) => median((runs.get(cell) ?? []).map((r) => r[key]));
  const busy = (...of: Cell[]) =>
    `CPUs ${of.map((c) => `${Math.round(m(c, 'busy') * 100)}%`).join('/')} busy`;
  const where = `${setup.name} (fsync ${setup.fsync})`;
  const figures: Figure[] = [];
  const gap = m('http 1', 'p50') - m('sql 1', 'p50');
  figures.push({
    name: `${where}: one connection, HTTP send p50 − SQL send p50`,
    value: gap,
    unit: 'ms',
    baseline: { name: 'SQL send p50, ms', value: m('sql 1', 'p50') },
    target: { op: '<=', value: 0.5 },
    met: gap <= 0.5,
    note:
      `HTTP p50 ${m('http 1', 'p50').toFixed(2)} ms vs SQL ${m('sql 1', 'p50').toFixed(2)} ms; ${busy('http 1', 'sql 1')}; ` +
      'no event stream is open on the server, so its relay reads nothing',
  });
  const streamingGap = m('http 1 streaming', 'p50') - m('sql 1', 'p50');
  figures.push({
    name: `${where}: one connection with one event stream open, HTTP send p50 − SQL send p50`,
    value: streamingGap,
    unit: 'ms',
    baseline: { name: 'SQL send p50, ms', value: m('sql 1', 'p50') },
    note:
      `HTTP p50 ${m('http 1 streaming', 'p50').toFixed(2)} ms vs SQL ${m('sql 1', 'p50').toFixed(2)} ms; ` +
      `the relay reads each send's event and writes it to the stream; server CPU per send ` +
      `${Math.round(m('http 1 streaming', 'serverUs'))} µs; ${busy('http 1 streaming', 'sql 1')}`,
  });
  const besideGap = m('http 1 beside', 'p50') - m('sql 1', 'p50');
  figures.push({
    name: `${where}: one connection with a second, idle server process on the database, HTTP send p50 − SQL send p50`,
    value: besideGap,
    unit: 'ms',
    baseline: { name: 'SQL send p50, ms', value: m('sql 1', 'p50') },
    note:
      `HTTP p50 ${m('http 1 beside', 'p50').toFixed(2)} ms vs SQL ${m('sql 1', 'p50').toFixed(2)} ms; the other ` +
      `process's relay wakes on every commit too (one LISTEN per process); ${busy('http 1 beside', 'sql 1')}`,
  });
  const cpuRatio = m('http 1', 'serverUs') / m('healthz 1', 'serverUs');
  figures.push({
    name: `${where}: server CPU per HTTP send ÷ per GET /healthz`,
    value: cpuRatio,
    unit: '×',
    baseline: { name: 'GET /healthz, server CPU µs per call', value: m('healthz 1', 'serverUs') },
    target: { op: '<=', value: 3 },
    met: cpuRatio <= 3,
    note: `${Math.round(m('http 1', 'serverUs'))} vs ${Math.round(m('healthz 1', 'serverUs'))} µs (no stream open: the relay reads nothing)`,
  });
  const serial = m('sql 1', 'perSecond');
  for (const [cell, target] of [
    ['http 50', 1.0],
    ['http 10', 0.9],
    ['http 50 alone', undefined],
  ] as [Cell, number | undefined][]) {
    const value = m(cell, 'perSecond') / serial;
    const label =
      cell === 'http 50 alone' ? '50 connections without group commit' : `${cell.split(' ')[1]} connections`;
    const figure: Figure = {
      name: `${where}: HTTP sends/s, ${label} ÷ serial SQL sends/s`,
      value,
      unit: '×',
      baseline: { name: 'serial SQL (one client), sends/s', value: serial },
      note:
        `HTTP ${Math.round(m(cell, 'perSecond'))}/s (p50 ${m(cell, 'p50').toFixed(2)} ms, p99 ${m(cell, 'p99').toFixed(1)} ms) ` +
        `vs SQL ${Math.round(serial)}/s; SQL with 10 clients ${Math.round(m('sql 10', 'perSecond'))}/s; ${busy(cell, 'sql 1')}`,
    };
    if (target !== undefined) {
      figure.target = { op: '>=', value: target };
      figure.met = value >= target;
    }
    figures.push(figure);
  }
  return figures;
}

async function main(): Promise<number> {
  const started = performance.now();
  const generator = startLoadGenerator();
  let setup: Setup | undefined;
  let where = '';
  try {
    const command = `npm run bench:send${quick ? ' -- --quick' : ''}`;
    const figures: Figure[] = [];
    // One set-up at a time: the other's cluster and servers (idle, but polling their job queues) stay
    // off the two CPUs while this one is measured.
    for (const [name, durable] of [
      ['durable', true],
      ['fsync off', false],
    ] as const) {
      setup = await openSetup(name, durable);
      if (!where) {
        where = setup.db.where;
        console.log(
          `${command}: ${os.availableParallelism()} CPUs, Node ${process.version}, ${where}; ` +
            `one group of ${SENDERS}; ${plan.reps} round(s) of ${plan.warmupMs / 1000} s warm-up + ${plan.durationMs / 1000} s per cell`,
        );
      }
      const runs = new Map<Cell, Measured[]>();
      // The server with group commit runs every cell but one; then the one without it, its own.
      for (const groupCommit of [true, false]) {
        const phase = cells.filter((cell) => onGroupCommit(cell) === groupCommit);
        await useServer(setup, groupCommit);
        // A fresh server's first thousands of requests run colder code (JIT, prepared statements,
        // pools) than it runs after: warm it up untimed.
        const warm = { warmupMs: 0, durationMs: quick ? 1500 : 4000 };
        await generator.run({ ...jobFor(setup, groupCommit ? 'http 10' : 'http 50 alone').job, ...warm });
        await analyzeGrownTables(setup);
        for (let rep = 0; rep < plan.reps; rep++) {
          // Rotating order: drift (autovacuum, other work, the growing table) hits every cell alike.
          for (const [i] of phase.entries()) {
            const cell = phase[(i + rep) % phase.length] as Cell;
            runs.set(cell, [...(runs.get(cell) ?? []), await measure(generator, setup, cell)]);
          }
        }
      }
      figures.push(...figuresOf(setup, runs));
      await closeSetup(setup);
      setup = undefined;
    }
    console.log('');
    for (const f of figures) {
      const verdict = f.target
        ? `target ${f.target.op === '<=' ? '≤' : '≥'} ${f.target.value} ${f.met ? '✓' : '✗ MISSED'}`
        : '(reference)';
      console.log(`${f.name}: ${f.value.toFixed(2)} ${f.unit} ${verdict}\n    ${f.note}`);
    }
    const dir = path.join(ROOT, 'bench', 'results');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `send-${fileStamp()}${quick ? '-quick' : ''}.json`);
    await writeFile(
      file,
      `${JSON.stringify({ date: new Date().toISOString(), command, plan, figures }, null, 2)}\n`,
    );
    const out = outFile();
    if (out) {
      await writePartResult(out, {
        part: 'send',
        quick,
        machine: describeMachine('PostgreSQL', where),
        figures,
      });
    }
    const missed = figures.filter((f) => f.met === false).length;
    console.log(
      `${missed ? `${missed} target(s) missed` : 'all targets met'}; results in ${path.relative(process.cwd(), file)} ` +
        `(${((performance.now() - started) / 1000).toFixed(0)} s)`,
    );
    return 0;
  } catch (error) {
    console.error(`bench:send failed: ${error instanceof Error ? (error.stack ?? error.message) : error}`);
    return 1;
  } finally {
    await generator.stop();
    if (setup) await closeSetup(setup);
  }
}

process.exitCode = await main();
