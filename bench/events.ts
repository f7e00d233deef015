/**
 * `npm run bench:events [-- --quick] [-- --out FILE] [-- --profile]`: the realtime side, each figure
 * beside a baseline measured in the same run: a raw node:http SSE server (bench/lib/events-raw-sse.ts)
 * that holds streams in a Map and writes frames straight to them.
 *
 * 1. Idle streams: N streams (10,000; quick 1,000) on one server process: RSS per stream ÷ raw. ≤ 2.
 * 2. Broadcast: one message to a group whose members hold all N streams, send → last stream received
 *    it ÷ raw node:http writing one frame to its N streams. ≤ 1.5.
 * 3. Send → delivery latency at 100 and 500 sends/s, direct conversations between pairs of the 1,000
 *    connected users (quick: 100): p50 ≤ 3 ms, p99 ≤ 20 ms; beside raw node:http echoing the POST to
 *    the recipient's stream at the same rate. Measured by the receiver, a client in its own process
 *    (arrival − the sender process's send time), with the whole machine's CPU use of the window
 *    (/proc/stat) printed beside it, so that a loaded run reads as loaded.
 * 4. Fan-out: one message to a 1,000-member group (quick: 100), all members connected, repeated 50
 *    times (quick: 10): last-delivery p99 ÷ raw node:http broadcasting to as many streams in the same
 *    run ≤ 1.3, with the absolute p99 beside it (≤ 50 ms) and the machine's CPU use.
 * 5. Reconnect storm: 5,000 streams (quick: 500) drop at once, messages are sent to them while they
 *    are away, and they all resume at once with Last-Event-ID: 0 lost, 0 duplicated, time until all
 *    caught up; beside the same storm on raw node:http (which has nothing to replay).
 *
 * 6. Live signals: send p50 with 100 users typing at once (each calls set_typing once a second, so each call
 *    is forwarded or dropped by the 2 s throttle: a client that calls as the user types) ÷ the same sends without. ≤ 1.1. And
 *    N streams (quick: 500) connecting at once, all users offline before: time until all are live with
 *    presence ÷ the same on a second server with MICROCHATTER_PRESENCE=false, medians of 5. ≤ 1.2.
 *
 * Separate processes: the real server (server/main.ts, as `npm start` runs it), the raw server, one
 * receiver process per server holding the streams (bench/lib/events-client.ts over node:http), and a
 * sender process (undici). Throw-away database (bench/lib/database.ts). Every time is wall-clock
 * `performance.timeOrigin + performance.now()`, compared across processes on this machine (the run
 * checks the processes agree). Exit code 1 only when the benchmark itself failed.
 */

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { cpuMeter, localPostgresProcesses, machineCpuMs } from './lib/cpu.ts';
import { type BenchDatabase, openBenchDatabase } from './lib/database.ts';
import { type MemoryProbe, memoryProbe } from './lib/events-memory.ts';
import {
  type EventsClient,
  type PostSpec,
  type RateResult,
  raiseFileLimit,
  type StreamSpec,
  startEventsClient,
  tcpCounters,
} from './lib/events-workers.ts';
import { type BenchServer, startBenchServer } from './lib/microchatter-server.ts';
import { type Child, ROOT, spawnNode } from './lib/processes.ts';
import { type ProfileSummary, profileLines, summarizeProfileDir } from './lib/profile.ts';
import { fileStamp } from './lib/result.ts';
import { type WaitSampler, waitSampler } from './lib/waits.ts';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const profiling = argv.includes('--profile');
const outIndex = argv.indexOf('--out');
const outFile = outIndex >= 0 ? argv[outIndex + 1] : undefined;
if (outIndex >= 0 && !outFile) throw new Error('--out needs a file name');
const PARTS = ['streams', 'latency', 'fanout', 'storm', 'signals'] as const;
type Part = (typeof PARTS)[number];
/** `--parts latency,fanout`: run only those (e.g. to profile one); default all. */
const partsIndex = argv.indexOf('--parts');
const parts = new Set<Part>(
  partsIndex >= 0 ? ((argv[partsIndex + 1] ?? '').split(',').filter(Boolean) as Part[]) : PARTS,
);
for (const part of parts) {
  if (!PARTS.includes(part)) throw new Error(`unknown part ${part}: expected ${PARTS.join(', ')}`);
}

const plan = quick
  ? {
      users: 100,
      idleStreamsPerUser: 10,
      broadcastReps: 2,
      rates: [100, 500],
      latencyWarmupMs: 200,
      latencyMs: 700,
      fanoutReps: 10,
      stormStreamsPerUser: 5,
      stormGroupMessages: 3,
    }
  : {
      users: 1000,
      idleStreamsPerUser: 10,
      broadcastReps: 5,
      rates: [100, 500],
      latencyWarmupMs: 1000,
      latencyMs: 5000,
      fanoutReps: 50,
      stormStreamsPerUser: 5,
      stormGroupMessages: 5,
    };
const SENDER_CONNECTIONS = 32;
/**
 * Rounds of each side of the live-signal figures, taking turns. Single rounds of the storm ranged
 * 944–1746 ms on one server in one run (7 December): the median of 3 still moved by half.
 */
const SIGNAL_ROUNDS = 5;
/** Streams being opened at a time while setting up (the storm opens all at once). */
const OPEN_CONCURRENCY = 500;

interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  target?: { op: '<=' | '>='; value: number };
  met?: boolean;
  note?: string;
}

type Series = Record<string, number[] | { x: number; y: number }[]>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const kb = (bytes: number) => bytes / 1024;

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}
const median = (values: number[]) => percentile(values, 0.5);

/** The whole machine's CPU use in a window (/proc/stat), so that a loaded run reads as loaded. */
function machineText(busy: number | undefined): string {
  if (busy === undefined) return 'busy n/a (no /proc/stat)';
  const cpus = os.availableParallelism();
  return `${(busy * 100).toFixed(0)}% busy of ${cpus} CPUs (${(busy * cpus).toFixed(2)} cores)`;
}

function figure(spec: Omit<Figure, 'met'>): Figure {
  const met =
    spec.target === undefined
      ? undefined
      : spec.target.op === '<='
        ? spec.value <= spec.target.value
        : spec.value >= spec.target.value;
  return met === undefined ? spec : { ...spec, met };
}

function formatValue(value: number, unit: string): string {
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toFixed(digits)}${unit === '×' ? '×' : ` ${unit}`}`;
}

function printFigure(f: Figure): void {
  const baseline = f.baseline ? ` (baseline ${f.baseline.name}: ${round(f.baseline.value, 2)})` : '';
  const target = f.target
    ? ` target ${f.target.op === '<=' ? '≤' : '≥'} ${f.target.value} ${f.met ? '✓' : '✗ MISSED'}`
    : '';
  console.log(`${f.name}: ${formatValue(f.value, f.unit)}${baseline}${target}`);
  if (f.note) console.log(`    ${f.note}`);
}

// ---------------------------------------------------------------------------------------------------
// Data

interface Data {
  users: string[];
  /** The group every user belongs to (≤ 1,000 members: microchatter.max_group_members). */
  group: number;
  /** Pairs (users[2p], users[2p+1]) and their direct conversation. */
  pairs: { a: string; b: string; conversation: number }[];
}

async function createData(sql: postgres.Sql): Promise<Data> {
  const users = Array.from({ length: plan.users }, (_, i) => `ev_${i + 1}`);
  await sql`
    insert into chat_private.users (user_id, display_name)
    select u, 'Bench ' || u from unnest(${sql.array(users)}::text[]) u`;
  const [group] = await sql<{ conversation_id: number }[]>`
    select conversation_id from chat.create_group(${users[0] ?? ''}, 'Realtime benchmark', ${sql.array(users.slice(1))})`;
  if (!group) throw new Error('the group was not created');
  const rows = await sql<{ p: number; conversation_id: number }[]>`
    select p, (chat.send_message(actor => 'ev_' || (2 * p + 1), recipient => 'ev_' || (2 * p + 2),
                                body => 'hello')).conversation_id
    from generate_series(0, ${Math.floor(users.length / 2) - 1}::int) p
    order by p`;
  const pairs = rows.map((row) => ({
    a: users[2 * row.p] ?? '',
    b: users[2 * row.p + 1] ?? '',
    conversation: Number(row.conversation_id),
  }));
  return { users, group: Number(group.conversation_id), pairs };
}

// ---------------------------------------------------------------------------------------------------
// The two systems under test, behind one interface

interface Target {
  label: string;
  url: string;
  pid: number;
  receiver: EventsClient;
  /** `count` streams per user for `users`. */
  streams(users: string[], count: number): StreamSpec[];
  /** A message with this body to every connected stream (Microchatter: the group). */
  broadcast(body: string): PostSpec;
  /** A message with this body from `from` to `to` (Microchatter: their direct conversation). */
  direct(from: string, to: string, conversation: number, body: string): PostSpec;
}

/** One line of JSON like Microchatter's message.created data, so both write frames of similar size. */
function rawFrameData(conversation: number, sender: string, body: string): string {
  return JSON.stringify({
    conversation_id: conversation,
    message: {
      id: 1,
      conversation_id: conversation,
      seq: 1,
      sender,
      body,
      client_id: null,
      sent_at: new Date().toISOString(),
    },
  });
}

function microchatterTarget(
  server: BenchServer,
  receiver: EventsClient,
  tokens: Map<string, string>,
  data: Data,
): Target {
  const auth = (user: string) => ({ authorization: `Bearer ${tokens.get(user)}` });
  return {
    label: 'Microchatter',
    url: server.url,
    pid: server.pid,
    receiver,
    streams: (users, count) =>
      users.flatMap((user) =>
        Array.from({ length: count }, () => ({ user, path: '/events', headers: auth(user) })),
      ),
    broadcast: (body) => ({
      path: '/rpc/send_message',
      headers: auth(data.users[0] ?? ''),
      body: JSON.stringify({ conversation_id: data.group, body }),
    }),
    direct: (from, _to, conversation, body) => ({
      path: '/rpc/send_message',
      headers: auth(from),
      body: JSON.stringify({ conversation_id: conversation, body }),
    }),
  };
}

function rawTarget(child: Child, receiver: EventsClient, data: Data): Target {
  return {
    label: 'raw node:http',
    url: child.ready[1] ?? '',
    pid: child.process.pid ?? 0,
    receiver,
    streams: (users, count) =>
      users.flatMap((user) =>
        Array.from({ length: count }, () => ({
          user,
          path: `/events?user=${encodeURIComponent(user)}`,
          headers: {},
        })),
      ),
    broadcast: (body) => ({
      path: '/broadcast',
      headers: {},
      body: rawFrameData(data.group, data.users[0] ?? '', body),
    }),
    direct: (from, to, conversation, body) => ({
      path: `/send?to=${encodeURIComponent(to)}`,
      headers: {},
      body: rawFrameData(conversation, from, body),
    }),
  };
}

interface Context {
  data: Data;
  mc: Target;
  raw: Target;
  sender: EventsClient;
  groups: Record<string, () => number[]>;
  /** What Microchatter's Postgres backends wait on during a timed window. */
  waits: WaitSampler;
  figures: Figure[];
  series: Series;
  details: Record<string, unknown>;
}

const marker = (key: string, to = '*') => `bench|${key}|{t}|${to}`;

// ---------------------------------------------------------------------------------------------------
// 1 + 2. Idle streams and broadcast

async function idleAndBroadcast(ctx: Context, probes: Record<'mc' | 'raw', MemoryProbe>): Promise<void> {
  const { data } = ctx;
  const n = data.users.length * plan.idleStreamsPerUser;
  console.log(
    `1. idle streams: ${n} (${data.users.length} users × ${plan.idleStreamsPerUser}) on each server`,
  );
  // Warm both servers' code paths, then measure where they start from.
  const memory: Record<string, { before: Awaited<ReturnType<MemoryProbe['measure']>>; opened?: number }> = {};
  const after: Record<string, Awaited<ReturnType<MemoryProbe['measure']>>> = {};
  for (const [key, target] of [
    ['mc', ctx.mc],
    ['raw', ctx.raw],
  ] as const) {
    await target.receiver.open(target.url, target.streams(data.users.slice(0, 100), 2), OPEN_CONCURRENCY);
    await target.receiver.closeAll();
    await sleep(500);
    memory[key] = { before: await probes[key].measure(target.pid, 1000) };
  }
  const openMs: Record<string, number> = {};
  for (const [key, target] of [
    ['raw', ctx.raw],
    ['mc', ctx.mc],
  ] as const) {
    const opened = await target.receiver.open(
      target.url,
      target.streams(data.users, plan.idleStreamsPerUser),
      OPEN_CONCURRENCY,
    );
    openMs[key] = opened.ms;
    console.log(`  ${target.label}: ${n} streams live in ${(opened.ms / 1000).toFixed(1)} s`);
  }
  await sleep(1000);
  for (const [key, target] of [
    ['mc', ctx.mc],
    ['raw', ctx.raw],
  ] as const) {
    after[key] = await probes[key].measure(target.pid, 1000);
  }
  const per = (key: 'mc' | 'raw', field: 'rss' | 'heapUsed' | 'external') =>
    ((after[key]?.[field] ?? 0) - (memory[key]?.before[field] ?? 0)) / n;
  const mcKb = kb(per('mc', 'rss'));
  const rawKb = kb(per('raw', 'rss'));
  ctx.details.idle = {
    streams: n,
    before: { microchatter: memory.mc?.before, raw: memory.raw?.before },
    after: { microchatter: after.mc, raw: after.raw },
    openMs,
  };
  ctx.figures.push(
    figure({
      name: `idle streams (${n}): RSS per stream, Microchatter ÷ raw node:http`,
      value: mcKb / rawKb,
      unit: '×',
      baseline: { name: 'raw node:http SSE, KB RSS per stream', value: rawKb },
      target: { op: '<=', value: 2 },
      note:
        `Microchatter ${mcKb.toFixed(1)} KB per stream (V8 heap ${kb(per('mc', 'heapUsed')).toFixed(1)} KB, ` +
        `external ${kb(per('mc', 'external')).toFixed(2)} KB), raw ${rawKb.toFixed(1)} KB (heap ` +
        `${kb(per('raw', 'heapUsed')).toFixed(1)} KB); RSS after a forced GC, before → with streams: ` +
        `Microchatter ${((memory.mc?.before.rss ?? 0) / 2 ** 20).toFixed(0)} → ${((after.mc?.rss ?? 0) / 2 ** 20).toFixed(0)} MiB, ` +
        `raw ${((memory.raw?.before.rss ?? 0) / 2 ** 20).toFixed(0)} → ${((after.raw?.rss ?? 0) / 2 ** 20).toFixed(0)} MiB`,
    }),
  );

  console.log(`2. broadcast to ${n} streams: ${plan.broadcastReps} rounds each, alternating`);
  const times: Record<'mc' | 'raw', number[]> = { mc: [], raw: [] };
  const firsts: Record<'mc' | 'raw', number[]> = { mc: [], raw: [] };
  const cpu: Record<'mc' | 'raw', number[]> = { mc: [], raw: [] };
  for (let rep = 0; rep < plan.broadcastReps; rep++) {
    const order = rep % 2 ? (['raw', 'mc'] as const) : (['mc', 'raw'] as const);
    for (const side of order) {
      const target = side === 'mc' ? ctx.mc : ctx.raw;
      const key = `bc-${side}-${rep}`;
      const meter = cpuMeter({ server: () => [target.pid] });
      meter.open();
      const sent = await ctx.sender.post(target.url, target.broadcast(marker(key)));
      const [stat] = await target.receiver.waitKeys([key], n);
      meter.close();
      if (!stat) throw new Error(`no arrivals of ${key}`);
      times[side].push(stat.last - sent.sentAt);
      firsts[side].push(stat.first - sent.sentAt);
      cpu[side].push(meter.result()?.byGroup.server ?? Number.NaN);
      console.log(
        `  ${target.label} #${rep + 1}: first ${(stat.first - sent.sentAt).toFixed(1)} ms, last ` +
          `${(stat.last - sent.sentAt).toFixed(1)} ms (POST answered in ${sent.ms.toFixed(1)} ms)`,
      );
      await sleep(300);
    }
  }
  const mcMs = median(times.mc);
  const rawMs = median(times.raw);
  ctx.series[`broadcast ${n} streams: Microchatter ms`] = times.mc.map((x) => round(x));
  ctx.series[`broadcast ${n} streams: raw node:http ms`] = times.raw.map((x) => round(x));
  ctx.details.broadcast = { streams: n, times, firsts, serverCpuMs: cpu };
  ctx.figures.push(
    figure({
      name: `broadcast to ${n} streams: send → last delivery, Microchatter ÷ raw node:http`,
      value: mcMs / rawMs,
      unit: '×',
      baseline: { name: 'raw node:http, ms to last delivery (median)', value: rawMs },
      target: { op: '<=', value: 1.5 },
      note:
        `medians of ${plan.broadcastReps}: Microchatter ${mcMs.toFixed(1)} ms (first delivery ` +
        `${median(firsts.mc).toFixed(1)} ms, server CPU ${median(cpu.mc).toFixed(0)} ms), raw ${rawMs.toFixed(1)} ms ` +
        `(first ${median(firsts.raw).toFixed(1)} ms, server CPU ${median(cpu.raw).toFixed(0)} ms)`,
    }),
  );
  await Promise.all([ctx.mc.receiver.closeAll(), ctx.raw.receiver.closeAll()]);
}

// ---------------------------------------------------------------------------------------------------
// 3. Send → delivery latency

async function latency(ctx: Context): Promise<void> {
  const { data } = ctx;
  console.log(
    `3. send → delivery latency: ${data.users.length} users connected (one stream each), ` +
      `${data.pairs.length} direct conversations, ${plan.latencyMs / 1000} s at each rate after ` +
      `${plan.latencyWarmupMs / 1000} s warm-up`,
  );
  const specsFor = (target: Target, prefix: string, count: number) =>
    Array.from({ length: count }, (_, i) => {
      const pair = data.pairs[i % data.pairs.length];
      if (!pair) throw new Error('no pairs');
      const forward = Math.floor(i / data.pairs.length) % 2 === 0;
      const [from, to] = forward ? [pair.a, pair.b] : [pair.b, pair.a];
      return target.direct(from, to, pair.conversation, marker(`${prefix}-${i}`, to));
    });
  for (const [i, rate] of plan.rates.entries()) {
    const results: Partial<
      Record<'mc' | 'raw', { samples: number[]; machineBusy: number | undefined } & RateResult>
    > = {};
    const order = i % 2 ? (['raw', 'mc'] as const) : (['mc', 'raw'] as const);
    for (const side of order) {
      const target = side === 'mc' ? ctx.mc : ctx.raw;
      const warm = Math.round((rate * plan.latencyWarmupMs) / 1000);
      await ctx.sender.rate(
        target.url,
        specsFor(target, `warm-${side}-${rate}`, warm),
        rate,
        SENDER_CONNECTIONS,
      );
      const count = Math.round((rate * plan.latencyMs) / 1000);
      const prefix = `lat-${side}-${rate}`;
      const meter = cpuMeter(ctx.groups);
      meter.open();
      if (side === 'mc') ctx.waits.start();
      const sent = await ctx.sender.rate(
        target.url,
        specsFor(target, prefix, count),
        rate,
        SENDER_CONNECTIONS,
      );
      const waits = side === 'mc' ? await ctx.waits.stop() : undefined;
      const { samples } = await target.receiver.latencies(prefix, count);
      meter.close();
      const use = meter.result();
      results[side] = { samples, ...sent, machineBusy: use?.machineBusy };
      const cpuText = use
        ? `${Object.entries(use.byGroup)
            .map(([group, ms]) => `${group} ${((ms / sent.seconds / 1000) * 100).toFixed(0)}%`)
            .join(', ')}; machine ${machineText(use.machineBusy)}`
        : '';
      console.log(
        `  ${target.label} @${rate}/s: ${samples.length}/${count} delivered, p50 ${percentile(samples, 0.5).toFixed(2)} ms, ` +
          `p99 ${percentile(samples, 0.99).toFixed(2)} ms, max ${Math.max(...samples).toFixed(1)} ms; sent ` +
          `${sent.perSecond.toFixed(0)}/s (HTTP p50 ${sent.sendP50.toFixed(2)} ms, p99 ${sent.sendP99.toFixed(1)} ms); ` +
          `CPU of one core: ${cpuText}`,
      );
      if (waits) {
        const top = Object.entries(waits)
          .slice(0, 4)
          .map(([event, share]) => `${event} ${(share * 100).toFixed(0)}%`);
        console.log(`    active Postgres backends by wait event: ${top.join(', ')}`);
      }
      ctx.details[`latency ${side} @${rate}/s`] = {
        waits,
        sent,
        delivered: samples.length,
        cpuMs: use?.byGroup,
        machineBusy: use?.machineBusy,
      };
      ctx.series[`latency @${rate}/s: ${target.label} ms`] = samples.map((x) => round(x, 3));
    }
    const mc = results.mc;
    const raw = results.raw;
    if (!mc || !raw) throw new Error('latency run missing');
    const lost = mc.sent - mc.samples.length;
    for (const [q, label, goal] of [
      [0.5, 'p50', 3],
      [0.99, 'p99', 20],
    ] as const) {
      ctx.figures.push(
        figure({
          name: `send → delivery latency @${rate}/s, ${label}`,
          value: percentile(mc.samples, q),
          unit: 'ms',
          baseline: { name: `raw node:http echo @${rate}/s, ${label} ms`, value: percentile(raw.samples, q) },
          target: { op: '<=', value: goal },
          note:
            `measured by the receiver process (its own process: arrival − the sender process's send time); ` +
            `machine CPU ${machineText(mc.machineBusy)} during the window (raw's: ${machineText(raw.machineBusy)}); ` +
            `of which the HTTP send (its answer) ${label} ${(q === 0.5 ? mc.sendP50 : mc.sendP99).toFixed(2)} ms ` +
            `(raw ${(q === 0.5 ? raw.sendP50 : raw.sendP99).toFixed(2)} ms)` +
            (q === 0.5
              ? `; ${mc.samples.length} of ${mc.sent} sends delivered${lost ? ` (${lost} LOST)` : ''} ` +
                `at ${mc.perSecond.toFixed(0)}/s; raw ${raw.samples.length} of ${raw.sent}`
              : ''),
        }),
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// 4. Fan-out

async function fanout(ctx: Context): Promise<void> {
  const members = ctx.data.users.length;
  console.log(`4. fan-out to a ${members}-member group, all connected: ${plan.fanoutReps} rounds each`);
  const last: Record<'mc' | 'raw', number[]> = { mc: [], raw: [] };
  // Machine CPU over all rounds of a side together: one round is shorter than a few /proc/stat ticks.
  const busy: Record<'mc' | 'raw', { busy: number; total: number }> = {
    mc: { busy: 0, total: 0 },
    raw: { busy: 0, total: 0 },
  };
  for (let rep = 0; rep < plan.fanoutReps; rep++) {
    const order = rep % 2 ? (['raw', 'mc'] as const) : (['mc', 'raw'] as const);
    for (const side of order) {
      const target = side === 'mc' ? ctx.mc : ctx.raw;
      const key = `fo-${side}-${rep}`;
      const before = machineCpuMs();
      const sent = await ctx.sender.post(target.url, target.broadcast(marker(key)));
      const [stat] = await target.receiver.waitKeys([key], members);
      const after = machineCpuMs();
      if (!stat) throw new Error(`no arrivals of ${key}`);
      last[side].push(stat.last - sent.sentAt);
      if (before && after) {
        busy[side].busy += after.busy - before.busy;
        busy[side].total += after.total - before.total;
      }
      await sleep(50);
    }
  }
  const mcP99 = percentile(last.mc, 0.99);
  const rawP99 = percentile(last.raw, 0.99);
  const share = (side: 'mc' | 'raw') =>
    busy[side].total > 0 ? busy[side].busy / busy[side].total : undefined;
  const busyText = `machine CPU during Microchatter's rounds ${machineText(share('mc'))}, raw's ${machineText(share('raw'))}`;
  ctx.series[`fan-out ${members} members: Microchatter last delivery ms`] = last.mc.map((x) => round(x, 3));
  ctx.series[`fan-out ${members} members: raw node:http last delivery ms`] = last.raw.map((x) => round(x, 3));
  console.log(
    `  Microchatter p50 ${median(last.mc).toFixed(1)} ms, p99 ${mcP99.toFixed(1)} ms; ` +
      `raw p50 ${median(last.raw).toFixed(1)} ms, p99 ${rawP99.toFixed(1)} ms; ${busyText}`,
  );
  ctx.details.fanout = { last, machineBusy: busy };
  ctx.figures.push(
    figure({
      name: `fan-out to ${members} members: last delivery p99, Microchatter ÷ raw node:http broadcast`,
      value: mcP99 / rawP99,
      unit: '×',
      baseline: { name: 'raw node:http broadcast, last delivery p99 ms', value: rawP99 },
      target: { op: '<=', value: 1.3 },
      note: `Microchatter p99 ${mcP99.toFixed(1)} ms, raw ${rawP99.toFixed(1)} ms, same run, rounds alternating; ${busyText}`,
    }),
    figure({
      name: `fan-out to ${members} members: last delivery p50`,
      value: median(last.mc),
      unit: 'ms',
      baseline: { name: 'raw node:http broadcast, p50 ms', value: median(last.raw) },
    }),
    figure({
      name: `fan-out to ${members} members: last delivery p99`,
      value: percentile(last.mc, 0.99),
      unit: 'ms',
      baseline: { name: 'raw node:http broadcast, p99 ms', value: rawP99 },
      target: { op: '<=', value: 50 },
      note: `${plan.fanoutReps} messages; p99 of ${plan.fanoutReps} samples is their maximum but one`,
    }),
  );
}

// ---------------------------------------------------------------------------------------------------
// 5. Reconnect storm

async function storm(ctx: Context): Promise<void> {
  const { data, mc, raw, sender } = ctx;
  const perUser = plan.stormStreamsPerUser;
  const n = data.users.length * perUser;
  console.log(
    `5. reconnect storm: ${n} streams (${data.users.length} users × ${perUser}) drop at once; ` +
      `${plan.stormGroupMessages} group and ${data.pairs.length} direct messages are sent meanwhile; all resume at once`,
  );
  await Promise.all([mc.receiver.closeAll(), raw.receiver.closeAll()]);

  // Baseline: the same storm on raw node:http (nothing to replay: only connections and headers).
  await raw.receiver.open(raw.url, raw.streams(data.users, perUser), OPEN_CONCURRENCY);
  await raw.receiver.drop();
  await sleep(500);
  const tcpDelta = (before: ReturnType<typeof tcpCounters>) => {
    const after = tcpCounters();
    return {
      listenOverflows: after.ListenOverflows - before.ListenOverflows,
      synRetransmits: after.TCPSynRetrans - before.TCPSynRetrans,
    };
  };
  let tcp = tcpCounters();
  const rawStorm = await raw.receiver.reconnect(raw.url, 1e9);
  const rawTcp = tcpDelta(tcp);
  const rawMs = rawStorm.lastReadyAt - rawStorm.startedAt;
  console.log(
    `  raw node:http: ${n} streams back in ${rawMs.toFixed(0)} ms (p50 ${rawStorm.readyPercentiles[50]?.toFixed(0)} ms); ` +
      `machine-wide accept-queue overflows ${rawTcp.listenOverflows}, SYN retransmits ${rawTcp.synRetransmits}`,
  );
  await raw.receiver.closeAll();

  await mc.receiver.open(mc.url, mc.streams(data.users, perUser), OPEN_CONCURRENCY);
  // One message before the drop, which every stream has seen: it must not come again after the resume.
  const before = 'st-before';
  await sender.post(mc.url, mc.broadcast(marker(before)));
  await mc.receiver.waitKeys([before], n);
  await mc.receiver.drop();
  await sleep(500);

  const expected: Record<string, string[]> = Object.fromEntries(data.users.map((user) => [user, [before]]));
  const groupKeys = Array.from({ length: plan.stormGroupMessages }, (_, i) => `st-group-${i}`);
  for (const key of groupKeys) {
    await sender.post(mc.url, mc.broadcast(marker(key)));
    for (const user of data.users) expected[user]?.push(key);
  }
  const directs = data.pairs.map((pair, i) => {
    const key = `st-direct-${i}`;
    expected[pair.a]?.push(key);
    expected[pair.b]?.push(key);
    // Addressed to both members: each of them must receive it.
    return mc.direct(pair.a, pair.b, pair.conversation, marker(key, '*'));
  });
  await sender.rate(mc.url, directs, 1000, SENDER_CONNECTIONS);
  const missedPerUser = plan.stormGroupMessages + 1;

  const meter = cpuMeter(ctx.groups);
  meter.open();
  tcp = tcpCounters();
  const storm = await mc.receiver.reconnect(mc.url, 1e9);
  const mcTcp = tcpDelta(tcp);
  const check = await mc.receiver.verify('st-', expected);
  meter.close();
  const use = meter.result();
  const caughtUpMs = check.caughtUpAt - storm.startedAt;
  console.log(
    `  Microchatter: ${n} streams live again in ${(storm.lastReadyAt - storm.startedAt).toFixed(0)} ms, all caught ` +
      `up in ${caughtUpMs.toFixed(0)} ms; missing ${check.missing}, duplicated ${check.dupes}, unexpected ` +
      `${check.unexpected}, resets ${check.resets}, not live ${check.notLive}; CPU ms: ` +
      Object.entries(use?.byGroup ?? {})
        .map(([group, ms]) => `${group} ${ms}`)
        .join(', ') +
      `; live p50 ${storm.readyPercentiles[50]?.toFixed(0)} ms, accept-queue overflows ${mcTcp.listenOverflows}, ` +
      `SYN retransmits ${mcTcp.synRetransmits}`,
  );
  ctx.details.storm = {
    streams: n,
    missedPerUser,
    raw: { ms: rawMs, tcp: rawTcp, readyPercentiles: rawStorm.readyPercentiles },
    microchatter: { ...storm, tcp: mcTcp },
    check,
    cpuMs: use?.byGroup,
  };
  ctx.series[`reconnect storm ${n}: Microchatter ms until live, by percentile`] = storm.readyPercentiles.map(
    (y, x) => ({ x, y: round(y, 1) }),
  );
  ctx.series[`reconnect storm ${n}: raw node:http ms until live, by percentile`] =
    rawStorm.readyPercentiles.map((y, x) => ({ x, y: round(y, 1) }));
  ctx.figures.push(
    figure({
      name: `reconnect storm (${n} streams, ${missedPerUser} missed messages each): time until all caught up`,
      value: caughtUpMs,
      unit: 'ms',
      baseline: {
        name: 'raw node:http, same storm, ms until all reconnected (nothing to replay)',
        value: rawMs,
      },
      note:
        `${n * missedPerUser} missed events replayed; live p50 ${storm.readyPercentiles[50]?.toFixed(0)} ms ` +
        `(raw ${rawStorm.readyPercentiles[50]?.toFixed(0)} ms); accept-queue overflows ${mcTcp.listenOverflows} ` +
        `(raw ${rawTcp.listenOverflows}), SYN retransmits ${mcTcp.synRetransmits} (raw ${rawTcp.synRetransmits})`,
    }),
    figure({
      name: 'reconnect storm: events lost',
      value: check.missing + check.notLive,
      unit: 'events',
      target: { op: '<=', value: 0 },
    }),
    figure({
      name: 'reconnect storm: events duplicated',
      value: check.dupes + check.unexpected,
      unit: 'events',
      target: { op: '<=', value: 0 },
    }),
  );
  await mc.receiver.closeAll();
}

// ---------------------------------------------------------------------------------------------------

// 6. Live signals

async function signals(ctx: Context, offServer: BenchServer, offReceiver: EventsClient): Promise<void> {
  const { data, mc, sender } = ctx;
  const rate = 200;
  const count = quick ? 300 : 1000;
  const typists = data.pairs.slice(0, 50).flatMap((pair) => [
    { user: pair.a, conversation: pair.conversation },
    { user: pair.b, conversation: pair.conversation },
  ]);
  console.log(
    `6. live signals: sends @${rate}/s with and without ${typists.length} users typing (set_typing once a second each)`,
  );
  const typer = startEventsClient('typer');
  try {
    const sends = (prefix: string) =>
      Array.from({ length: count }, (_, i) => {
        const pair = data.pairs[(i * 7) % data.pairs.length];
        if (!pair) throw new Error('no pairs');
        return mc.direct(pair.a, pair.b, pair.conversation, marker(`${prefix}-${i}`, pair.b));
      });
    const typingCalls = Array.from(
      { length: Math.round((count / rate) * typists.length) + typists.length * 2 },
      (_, i) => {
        const who = typists[i % typists.length];
        if (!who) throw new Error('no typists');
        return {
          path: '/rpc/set_typing',
          headers: mc.direct(who.user, '', who.conversation, '').headers,
          body: JSON.stringify({ conversation_id: who.conversation }),
        };
      },
    );
    const p50: Record<'quiet' | 'typing', number[]> = { quiet: [], typing: [] };
    // Warm-up (not counted): the server's code paths, the pool's connections, the typing table.
    await Promise.all([
      sender.rate(mc.url, sends('sig-warm'), rate, SENDER_CONNECTIONS),
      typer.rate(mc.url, typingCalls.slice(0, typists.length * 2), typists.length, 16),
    ]);
    for (let round = 0; round < SIGNAL_ROUNDS; round++) {
      for (const mode of round % 2 ? (['typing', 'quiet'] as const) : (['quiet', 'typing'] as const)) {
        const typingLoad =
          mode === 'typing'
            ? typer.rate(mc.url, typingCalls, typists.length, 16)
            : Promise.resolve(undefined);
        const sent = await sender.rate(mc.url, sends(`sig-${mode}-${round}`), rate, SENDER_CONNECTIONS);
        const typed = await typingLoad;
        p50[mode].push(sent.sendP50);
        console.log(
          `  ${mode} #${round + 1}: send p50 ${sent.sendP50.toFixed(2)} ms, p99 ${sent.sendP99.toFixed(1)} ms` +
            (typed ? `; set_typing ${typed.perSecond.toFixed(0)}/s, p50 ${typed.sendP50.toFixed(2)} ms` : ''),
        );
      }
    }
    const typingRatio = median(p50.typing) / median(p50.quiet);
    ctx.figures.push(
      figure({
        name: `send p50 with ${typists.length} users typing ÷ without`,
        value: typingRatio,
        unit: '×',
        baseline: { name: 'send p50 without typing, ms', value: median(p50.quiet) },
        target: { op: '<=', value: 1.1 },
        note: `medians of ${SIGNAL_ROUNDS} rounds of ${count} sends @${rate}/s: ${median(p50.typing).toFixed(2)} ms with typing`,
      }),
    );
  } finally {
    await typer.stop();
  }

  const perUser = plan.stormStreamsPerUser;
  const n = data.users.length * perUser;
  console.log(
    `  ${n} streams connecting at once, presence on ÷ MICROCHATTER_PRESENCE=false, ${SIGNAL_ROUNDS} rounds each`,
  );
  const offTokens = new Map<string, string>();
  for (const user of data.users) offTokens.set(user, await offServer.tokenFor(user));
  const offSpecs = data.users.flatMap((user) =>
    Array.from({ length: perUser }, () => ({
      user,
      path: '/events',
      headers: { authorization: `Bearer ${offTokens.get(user)}` },
    })),
  );
  const times: Record<'on' | 'off', number[]> = { on: [], off: [] };
  // A round on each, not counted: the presence-off server has only just started.
  for (const [receiver, url, specs] of [
    [offReceiver, offServer.url, offSpecs],
    [mc.receiver, mc.url, mc.streams(data.users, perUser)],
  ] as const) {
    await receiver.open(url, specs, n);
    await receiver.closeAll();
  }
  await sleep(4500);
  for (let round = 0; round < SIGNAL_ROUNDS; round++) {
    for (const side of round % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const receiver = side === 'on' ? mc.receiver : offReceiver;
      const url = side === 'on' ? mc.url : offServer.url;
      const opened = await receiver.open(url, side === 'on' ? mc.streams(data.users, perUser) : offSpecs, n);
      times[side].push(opened.ms);
      console.log(`  presence ${side} #${round + 1}: ${n} streams live in ${opened.ms.toFixed(0)} ms`);
      await receiver.closeAll();
      // Past the grace period: everyone is announced offline, so the next round comes online again.
      await sleep(4500);
    }
  }
  ctx.figures.push(
    figure({
      name: `${n} streams connecting at once: time until all live, presence ÷ presence off`,
      value: median(times.on) / median(times.off),
      unit: '×',
      baseline: {
        name: `MICROCHATTER_PRESENCE=false, ms (median of ${SIGNAL_ROUNDS})`,
        value: median(times.off),
      },
      target: { op: '<=', value: 1.2 },
      note: `presence on: ${times.on.map((t) => t.toFixed(0)).join(', ')} ms; off: ${times.off.map((t) => t.toFixed(0)).join(', ')} ms`,
    }),
  );
}

// ---------------------------------------------------------------------------------------------------

async function resultsPath(): Promise<string> {
  if (outFile) return path.resolve(outFile);
  const dir = path.join(ROOT, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const date = fileStamp();
  return path.join(dir, `events-${date}${quick ? '-quick' : ''}${profiling ? '-profile' : ''}.json`);
}

async function main(): Promise<number> {
  const started = performance.now();
  let db: BenchDatabase | undefined;
  let setup: postgres.Sql | undefined;
  let server: BenchServer | undefined;
  let offServer: BenchServer | undefined;
  let rawServer: Child | undefined;
  const clients: EventsClient[] = [];
  const probes = { mc: memoryProbe('microchatter'), raw: memoryProbe('raw') };
  const profileDir = profiling ? await mkdtemp(path.join(os.tmpdir(), 'microchatter-bench-profile-')) : '';
  try {
    db = await openBenchDatabase();
    setup = postgres(db.url, { max: 1, onnotice: () => {} });
    const [info] = await setup<{ version: string; fsync: string }[]>`
      select current_setting('server_version') as version, current_setting('fsync') as fsync`;
    const command = `npm run bench:events${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
    const machine = {
      cpus: os.availableParallelism(),
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      postgres: info?.version ?? 'unknown',
    };
    console.log(
      `${command}: PostgreSQL ${machine.postgres} (${db.where}, fsync ${info?.fsync}), ${machine.cpus} CPUs ` +
        `(${os.cpus()[0]?.model ?? 'unknown'}), ${machine.memoryGiB} GiB, Node ${machine.node}`,
    );
    // What other work uses before anything of this run is busy: a loaded machine reads as loaded.
    const idleBefore = machineCpuMs();
    await sleep(1000);
    const idleAfter = machineCpuMs();
    const background =
      idleBefore && idleAfter
        ? (idleAfter.busy - idleBefore.busy) / (idleAfter.total - idleBefore.total)
        : undefined;
    console.log(
      `  machine CPU before the run (other work), 1 s: ${machineText(background)}; load average ` +
        `${os.loadavg()[0]?.toFixed(1)}`,
    );
    const data = await createData(setup);
    await setup`vacuum analyze`;

    server = await startBenchServer({
      databaseUrl: db.url,
      nodeFlags: [
        ...probes.mc.nodeFlags,
        ...(profiling ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
      ],
      env: {
        ...probes.mc.env,
        MICROCHATTER_MAX_STREAMS_PER_USER: '1000',
        // A heartbeat is a broadcast of a comment to every stream; 15 s would fall into timed rounds.
        MICROCHATTER_SSE_HEARTBEAT_MS: '600000',
      },
    });
    rawServer = await spawnNode(path.join(ROOT, 'bench/lib/events-raw-sse.ts'), [], {
      name: 'raw SSE server',
      ready: /listening on (\S+)/,
      nodeFlags: probes.raw.nodeFlags,
      env: probes.raw.env,
    });
    const mcReceiver = startEventsClient('receiver (Microchatter streams)');
    const rawReceiver = startEventsClient('receiver (raw streams)');
    const sender = startEventsClient('sender');
    clients.push(mcReceiver, rawReceiver, sender);
    // Each server and each receiver holds the streams of one server at a time (sockets + a margin).
    const needed = data.users.length * plan.idleStreamsPerUser + 1000;
    for (const pid of [server.pid, rawServer.process.pid ?? 0, mcReceiver.pid, rawReceiver.pid]) {
      const limit = raiseFileLimit(pid);
      if (limit !== undefined && limit < needed) {
        throw new Error(`process ${pid} may open only ${limit} files, ${needed} needed: raise ulimit -n`);
      }
    }

    // Times are compared across processes: check their wall clocks agree against the shared monotonic one.
    const offsets = await Promise.all(clients.map((client) => client.clockOffset()));
    const skew = Math.max(...offsets) - Math.min(...offsets);
    console.log(`  clock skew between client processes: ${(skew * 1000).toFixed(0)} µs`);

    const tokens = new Map<string, string>();
    for (const user of data.users) tokens.set(user, await server.tokenFor(user));
    const [backend] = await setup<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const mcPid = server.pid;
    const ctx: Context = {
      data,
      mc: microchatterTarget(server, mcReceiver, tokens, data),
      raw: rawTarget(rawServer, rawReceiver, data),
      sender,
      groups: {
        server: () => [mcPid],
        postgres: localPostgresProcesses(db.where, backend?.pid),
        receiver: () => [mcReceiver.pid],
        sender: () => [sender.pid],
      },
      waits: waitSampler(setup, 25),
      figures: [],
      series: {},
      details: { clockSkewMs: skew, machineBusyBefore: background, loadAverage: os.loadavg()[0] },
    };

    if (parts.has('streams')) await idleAndBroadcast(ctx, probes);
    if (parts.has('latency') || parts.has('fanout')) {
      // One stream per user on each server.
      await ctx.mc.receiver.open(ctx.mc.url, ctx.mc.streams(data.users, 1), OPEN_CONCURRENCY);
      await ctx.raw.receiver.open(ctx.raw.url, ctx.raw.streams(data.users, 1), OPEN_CONCURRENCY);
      if (parts.has('latency')) await latency(ctx);
      if (parts.has('fanout')) await fanout(ctx);
    }
    if (parts.has('storm')) await storm(ctx);
    if (parts.has('signals')) {
      await Promise.all([ctx.mc.receiver.closeAll(), ctx.raw.receiver.closeAll()]);
      offServer = await startBenchServer({
        databaseUrl: db.url,
        env: {
          MICROCHATTER_PRESENCE: 'false',
          MICROCHATTER_MAX_STREAMS_PER_USER: '1000',
          MICROCHATTER_SSE_HEARTBEAT_MS: '600000',
        },
      });
      raiseFileLimit(offServer.pid);
      await signals(ctx, offServer, ctx.raw.receiver);
    }

    let profile: ProfileSummary | undefined;
    if (profiling) {
      await server.stop();
      server = undefined;
      profile = await summarizeProfileDir(profileDir, 25);
    }

    console.log('');
    for (const f of ctx.figures) printFigure(f);
    if (profile) {
      for (const line of profileLines(profile)) console.log(line);
      console.log('(--profile: the server ran under the profiler, its figures carry that overhead)');
    }
    const file = await resultsPath();
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(
      file,
      `${JSON.stringify(
        {
          part: 'events',
          quick,
          date: new Date().toISOString(),
          command,
          machine,
          plan,
          figures: ctx.figures,
          series: ctx.series,
          details: ctx.details,
          ...(profile ? { profile } : {}),
        },
        null,
        2,
      )}\n`,
    );
    const missed = ctx.figures.filter((f) => f.met === false).length;
    console.log(
      `${missed ? `${missed} target(s) missed` : 'all targets met'}; results in ${path.relative(process.cwd(), file)} ` +
        `(${((performance.now() - started) / 1000).toFixed(0)} s)`,
    );
    return 0;
  } catch (error) {
    console.error(`bench:events failed: ${error instanceof Error ? (error.stack ?? error.message) : error}`);
    return 1;
  } finally {
    await Promise.all(clients.map((client) => client.stop()));
    await rawServer?.stop();
    await server?.stop();
    await offServer?.stop();
    await setup?.end();
    await db?.close();
    probes.mc.dispose();
    probes.raw.dispose();
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
