/**
 * `node --import tsx bench/webhooks.ts [--quick]` (also a part of `npm run bench`): what webhooks cost.
 *
 * 1. Sends/s through `POST /rpc/send_message` (10 keep-alive connections, 100 direct conversations) with
 *    one webhook subscribed to `message.created` ÷ the same without any webhook, the median of 5 such
 *    ratios; the deliveries (graphile-worker in the server process, posting to a receiver in this
 *    process) run during the window and share its CPUs. Target ≥ 0.8. The windows alternate, without
 *    first and last (without, with, without, …, without: 6 + 5), and each with-window is divided by the
 *    mean of the two without-windows around it: the rate of both sides falls over a sustained run (one
 *    run: 1630 → 859 sends/s without a webhook over ten windows), which a ratio to the window before or
 *    after alone counts as the webhook's cost or gain, and the mean of its neighbours cancels as far as
 *    it is linear. Each ratio is printed with its neighbours. Before every window the tables that each
 *    send rewrites or grows (memberships, conversations, messages, the staged events, the log, the
 *    deliveries) are vacuumed and analyzed: a fresh database gets no autovacuum pass within the run
 *    (naptime 1 min); their dead row versions were most of that fall (without a webhook, ten windows:
 *    1318 → 587 sends/s as it was, 1448 → 948 with the vacuum), and the analyze makes the server's
 *    connections plan again, so no plan made on a table still empty scans it whole (docs/webhooks.md).
 *    The CPU each process used per send is printed for every window (bench/lib/cpu.ts).
 * 2. Delivery lag at 200 sends/s, open loop for a fixed time: from the send's HTTP answer read here to
 *    the webhook's request received here (one clock). Targets: p50 ≤ 50 ms, p99 ≤ 500 ms.
 *
 * The same harness as bench/http.ts: a throw-away database (bench/lib/database.ts), the real server as
 * a process (bench/lib/microchatter-server.ts), the load generator process (bench/lib/load.ts).
 * Writes bench/results/webhooks-<date>.json (with `--out FILE`, the suite's schema, bench/lib/result.ts).
 */

import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { Pool } from 'undici';
import { type CpuUse, cpuMeter, localPostgresProcesses } from './lib/cpu.ts';
import { type BenchDatabase, openBenchDatabase } from './lib/database.ts';
import { createDirectChats } from './lib/generate.ts';
import { type HttpRequestSpec, type LoadGenerator, type LoadResult, startLoadGenerator } from './lib/load.ts';
import { type BenchServer, startBenchServer } from './lib/microchatter-server.ts';
import { ROOT } from './lib/processes.ts';
import {
  describeMachine,
  type Figure,
  fileStamp,
  holds,
  outFile,
  type Target,
  writePartResult,
} from './lib/result.ts';

const quick = process.argv.includes('--quick');
const plan = quick
  ? { warmupMs: 300, durationMs: 1000, reps: 1, lagSeconds: 3 }
  : { warmupMs: 1000, durationMs: 3000, reps: 5, lagSeconds: 15 };
const CONNECTIONS = 10;
const SENDERS = 20;
const CHATS_PER_SENDER = 5;
const LAG_RATE = 200;
const BODY = 'Hello from the webhook benchmark: a message of typical length, some sixty characters.';

interface Arrival {
  at: number;
}

/** A receiver on 127.0.0.1 that answers 204 at once and notes when each message's delivery arrived. */
async function startReceiver() {
  const arrivals = new Map<string, Arrival>();
  let count = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = performance.now();
      count++;
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        data: { message: { body: string } };
      };
      arrivals.set(event.data.message.body, { at });
      res.statusCode = 204;
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    arrivals,
    count: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

/** Each group's CPU per send in the window, and the machine's busy share. */
function cpuPerSend(cpu: CpuUse, sends: number): string {
  const groups = Object.entries(cpu.byGroup).map(
    ([name, ms]) => `${name} ${((ms * 1000) / Math.max(1, sends)).toFixed(0)}`,
  );
  const busy = cpu.machineBusy === undefined ? '' : `; machine ${(cpu.machineBusy * 100).toFixed(0)} % busy`;
  return groups.join(', ') + busy;
}

async function waitForDrain(sql: postgres.Sql, timeoutMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    // list_webhooks counts the events of the log a webhook's job has not taken yet too.
    const [row] = await sql<{ n: number }[]>`
      select coalesce(sum(pending), 0)::int as n from chat_admin.list_webhooks()`;
    if (!row?.n) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`${row.n} deliveries still pending`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function main(): Promise<number> {
  let db: BenchDatabase | undefined;
  let sql: postgres.Sql | undefined;
  let server: BenchServer | undefined;
  let generator: LoadGenerator | undefined;
  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
  try {
    db = await openBenchDatabase();
    sql = postgres(db.url, {
      max: 2,
      onnotice: () => {},
      connection: { 'microchatter.webhook_allow_private': 'true' },
    });
    const [{ version, pid: backendPid }] = await sql<{ version: string; pid: number }[]>`
      select version(), pg_backend_pid() as pid`;
    const postgresPids = localPostgresProcesses(db.where, backendPid);
    console.log(
      `bench:webhooks${quick ? ' --quick' : ''}: ${version.replace(/ on .*/, '')} (${db.where}), ` +
        `${os.availableParallelism()} CPUs, Node ${process.version}`,
    );
    const senders = Array.from({ length: SENDERS }, (_, i) => `sender_${i + 1}`);
    const chats: number[][] = [];
    for (const [i, owner] of senders.entries()) {
      const ids = await createDirectChats(sql, {
        owner,
        peerPrefix: `peer_${i + 1}_`,
        chats: CHATS_PER_SENDER,
        messagesPerChat: 0,
      });
      chats.push(ids.map(Number));
    }
    await sql`vacuum analyze`;
    receiver = await startReceiver();
    server = await startBenchServer({
      databaseUrl: db.url,
      env: {
        MICROCHATTER_WEBHOOK_ALLOW_PRIVATE: 'true',
        ...(process.env.MICROCHATTER_WORKER_CONCURRENCY
          ? { MICROCHATTER_WORKER_CONCURRENCY: process.env.MICROCHATTER_WORKER_CONCURRENCY }
          : {}),
      },
    });
    const tokens = await Promise.all(senders.map((sender) => server?.tokenFor(sender) ?? ''));
    generator = startLoadGenerator();
    const request = (index: number, conversation: number, body: string): HttpRequestSpec => ({
      method: 'POST',
      path: '/rpc/send_message',
      headers: { authorization: `Bearer ${tokens[index]}`, 'content-type': 'application/json' },
      body: JSON.stringify({ conversation_id: conversation, body }),
    });
    const loops = Array.from({ length: CONNECTIONS }, (_, c) =>
      senders.flatMap((_, index) =>
        index % CONNECTIONS === c
          ? (chats[index] ?? []).map((conversation) => request(index, conversation, BODY))
          : [],
      ),
    );

    // 1. Throughput with and without a webhook: without, with, without, …, without.
    const runs: { side: 'with' | 'without'; rep: number; result: LoadResult; drainMs?: number }[] = [];
    const sides = Array.from({ length: 2 * plan.reps + 1 }, (_, i): 'with' | 'without' =>
      i % 2 === 0 ? 'without' : 'with',
    );
    for (const [i, side] of sides.entries()) {
      const rep = Math.floor(i / 2);
      let webhookId: number | undefined;
      if (side === 'with') {
        const [row] = await sql<{ webhook_id: number }[]>`
          select webhook_id from chat_admin.create_webhook(${receiver.url}, ${['message.created']})`;
        webhookId = row?.webhook_id;
      }
      // Every window from the same state of the rows each send rewrites (see the top of the file).
      await sql`vacuum analyze chat_private.memberships, chat_private.conversations, chat_private.messages,
        chat_private.pending_events, chat_private.events, chat_private.webhook_deliveries`;
      const meter = cpuMeter({
        server: () => (server ? [server.pid] : []),
        postgres: postgresPids,
        'load generator': () => (generator ? [generator.pid] : []),
        receiver: () => [process.pid],
      });
      const result = await generator.run(
        { kind: 'http', origin: server.url, loops, warmupMs: plan.warmupMs, durationMs: plan.durationMs },
        (phase) => (phase === 'open' ? meter.open() : meter.close()),
      );
      const cpu = meter.result();
      const drainMs = side === 'with' ? await waitForDrain(sql, 120_000) : undefined;
      if (webhookId !== undefined) await sql`select chat_admin.delete_webhook(${webhookId})`;
      runs.push({ side, rep, result, drainMs });
      console.log(
        `  ${side.padEnd(7)} a webhook, window ${i + 1}: ${result.perSecond.toFixed(0)} sends/s, ` +
          `p50 ${result.latency.p50.toFixed(1)} ms` +
          (drainMs !== undefined ? `; deliveries caught up ${drainMs.toFixed(0)} ms after the window` : '') +
          (cpu ? `\n      CPU µs per send: ${cpuPerSend(cpu, result.completed)}` : ''),
      );
    }
    // Window 2k+1 (with) between windows 2k and 2k+2 (without).
    const ratios = Array.from({ length: plan.reps }, (_, rep) => {
      const w = runs[2 * rep + 1]?.result.perSecond ?? 0;
      const before = runs[2 * rep]?.result.perSecond ?? 1;
      const after = runs[2 * rep + 2]?.result.perSecond ?? 1;
      const ratio = w / ((before + after) / 2);
      console.log(
        `  ratio ${rep + 1}: ${w.toFixed(0)} ÷ mean(${before.toFixed(0)}, ${after.toFixed(0)}) = ${ratio.toFixed(3)}`,
      );
      return ratio;
    });
    const without = median(runs.filter((r) => r.side === 'without').map((r) => r.result.perSecond));

    // 2. Delivery lag at a steady 200 sends/s.
    await sql`select chat_admin.create_webhook(${receiver.url}, ${['message.created']})`;
    const pool = new Pool(server.url, { connections: 20 });
    const acks = new Map<string, number>();
    const total = LAG_RATE * plan.lagSeconds;
    const started = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / LAG_RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const index = i % SENDERS;
      const body = `lag ${i}`;
      const spec = request(index, chats[index]?.[Math.floor(i / SENDERS) % CHATS_PER_SENDER] ?? 0, body);
      inFlight.push(
        pool
          .request({ method: 'POST', path: spec.path, headers: spec.headers, body: spec.body })
          .then(async (res) => {
            await res.body.text();
            if (res.statusCode !== 200) throw new Error(`send answered ${res.statusCode}`);
            acks.set(body, performance.now());
          }),
      );
    }
    await Promise.all(inFlight);
    const sendSeconds = (performance.now() - started) / 1000;
    await waitForDrain(sql, 60_000);
    await pool.close();
    const lags: number[] = [];
    for (const [body, ack] of acks) {
      const arrival = receiver.arrivals.get(body);
      if (arrival) lags.push(Math.max(0, arrival.at - ack));
    }
    const early = [...acks].filter(
      ([body, ack]) => (receiver?.arrivals.get(body)?.at ?? Infinity) < ack,
    ).length;
    if (lags.length !== total) throw new Error(`${lags.length} of ${total} sends were delivered`);
    const p50 = quantile(lags, 0.5);
    const p99 = quantile(lags, 0.99);
    console.log(
      `  lag: ${total} sends in ${sendSeconds.toFixed(1)} s (${(total / sendSeconds).toFixed(0)}/s), all delivered; ` +
        `${early} arrived before their send's answer was read (counted as 0 ms)`,
    );

    const figures: (Figure & { target: Target })[] = [
      {
        name: `sends/s with a message.created webhook ÷ without, ${CONNECTIONS} connections`,
        value: median(ratios),
        unit: '×',
        baseline: { name: 'without a webhook, sends/s', value: without },
        target: { op: '>=' as const, value: 0.8 },
      },
      {
        name: `webhook delivery lag p50 at ${LAG_RATE} sends/s`,
        value: p50,
        unit: 'ms',
        target: { op: '<=' as const, value: 50 },
      },
      {
        name: `webhook delivery lag p99 at ${LAG_RATE} sends/s`,
        value: p99,
        unit: 'ms',
        target: { op: '<=' as const, value: 500 },
      },
    ].map((f) => ({ ...f, met: holds(f.target, f.value) }));
    for (const f of figures) {
      console.log(
        `${f.name}: ${f.value.toFixed(f.unit === '×' ? 2 : 1)} ${f.unit} (target ${f.target?.op} ${f.target?.value}` +
          `${f.baseline ? `; ${f.baseline.name} ${f.baseline.value.toFixed(0)}` : ''}) ${f.met ? 'met' : 'MISSED'}`,
      );
    }
    const dir = path.join(ROOT, 'bench', 'results');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `webhooks-${fileStamp()}${quick ? '-quick' : ''}.json`);
    await writeFile(
      file,
      `${JSON.stringify({ plan, connections: CONNECTIONS, figures, ratios, runs, lag: { p50, p99, n: lags.length, early } }, null, 2)}\n`,
    );
    const out = outFile();
    if (out) {
      await writePartResult(out, {
        part: 'webhooks',
        quick,
        machine: describeMachine(version, db.where),
        figures,
        series: { [`delivery lag @${LAG_RATE}/s: webhook ms`]: lags },
      });
    }
    console.log(`results in ${path.relative(process.cwd(), file)}`);
    return 0;
  } catch (error) {
    console.error(
      `bench:webhooks failed: ${error instanceof Error ? (error.stack ?? error.message) : error}`,
    );
    return 1;
  } finally {
    await generator?.stop();
    await server?.stop();
    await receiver?.close();
    await sql?.end();
    await db?.close();
  }
}

process.exitCode = await main();
