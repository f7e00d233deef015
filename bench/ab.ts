/**
 * `npm run bench:ab -- <commit> [--rounds N] [--burst] [--durable]`: the one-connection send of this
 * tree against the server of another commit, on one machine, in one run. The two servers take turns
 * on one benchmark database (never side by side: each would get the other's notifications), the
 * order swapping every round; each turn measures HTTP sends on one connection and then the same
 * `chat.send_message` from a `postgres` client, and prints HTTP p50 − SQL p50 (bench/send.ts's first
 * figure) and the server's CPU per send. The medians over the rounds are what to compare: on a
 * shared 2-CPU machine single windows range over ±50 %.
 *
 * `--burst` sends from 50 connections for a second before each one-connection window (a quiet spell
 * after a busy one: the pool then holds many open connections). `--durable`: fsync and synchronous
 * commit on.
 *
 * The other commit runs from a git worktree (removed after) with this tree's node_modules, on a
 * database migrated by this tree: compare commits whose servers work on the newer schema.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { cpuMeter } from './lib/cpu.ts';
import { openBenchDatabase } from './lib/database.ts';
import { type HttpRequestSpec, startLoadGenerator } from './lib/load.ts';
import { type BenchServer, type BenchServerOptions, startBenchServer } from './lib/microchatter-server.ts';
import { ROOT } from './lib/processes.ts';
import { createSenderGroup, SEND_STATEMENT } from './lib/sends.ts';
import { median } from './lib/stats.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const base = args.find((arg, i) => !arg.startsWith('--') && !args[i - 1]?.startsWith('--rounds'));
if (!base) {
  console.error('usage: npm run bench:ab -- <commit> [--rounds N] [--burst] [--durable]');
  process.exit(2);
}
const rounds = option('--rounds', 8);
const SENDERS = 50;
const BODY = 'Hello from the send benchmark, about as long as a short chat line.';

type Start = (options: BenchServerOptions) => Promise<BenchServer>;
interface Turn {
  http: number;
  sql: number;
  serverUs: number;
}

const git = (...gitArgs: string[]) => execFileSync('git', gitArgs, { cwd: ROOT, encoding: 'utf8' }).trim();
const commit = git('rev-parse', '--short', base);
const worktree = await mkdtemp(path.join(tmpdir(), 'microchatter-ab-'));
git('worktree', 'add', '--detach', '--force', worktree, base);
const db = await openBenchDatabase({ durable: flag('--durable') });
const generator = startLoadGenerator();
try {
  await symlink(path.join(ROOT, 'node_modules'), path.join(worktree, 'node_modules'));
  const other = (await import(path.join(worktree, 'bench/lib/microchatter-server.ts'))) as {
    startBenchServer: Start;
  };
  const sides: [string, Start][] = [
    ['this tree', startBenchServer],
    [commit, other.startBenchServer],
  ];

  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  const { senders, conversation } = await createSenderGroup(sql, SENDERS, 'a/b');
  const body = JSON.stringify({ conversation_id: conversation, body: BODY });

  const turn = async (start: Start): Promise<Turn> => {
    const server = await start({ databaseUrl: db.url });
    try {
      const sends: HttpRequestSpec[] = await Promise.all(
        senders.map(async (sender) => ({
          method: 'POST' as const,
          path: '/rpc/send_message',
          headers: {
            authorization: `Bearer ${await server.tokenFor(sender)}`,
            'content-type': 'application/json',
          },
          body,
        })),
      );
      await sql`analyze chat_private.messages, chat_private.events, chat_private.memberships, chat_private.conversations`;
      if (flag('--burst')) {
        const loops = sends.map((send) => [send]);
        await generator.run({ kind: 'http', origin: server.url, warmupMs: 200, durationMs: 1000, loops });
      }
      const meter = cpuMeter({ server: () => [server.pid] });
      const http = await generator.run(
        { kind: 'http', origin: server.url, warmupMs: 1000, durationMs: 3000, loops: [sends] },
        (phase) => (phase === 'open' ? meter.open() : meter.close()),
      );
      const direct = await generator.run({
        kind: 'sql',
        url: db.url,
        statement: SEND_STATEMENT,
        prepare: true,
        warmupMs: 500,
        durationMs: 3000,
        loops: [senders.map((sender) => [sender, conversation, BODY])],
      });
      const cpuMs = meter.result()?.byGroup.server ?? Number.NaN;
      return {
        http: http.latency.p50,
        sql: direct.latency.p50,
        serverUs: (cpuMs * 1000) / Math.max(1, http.completed),
      };
    } finally {
      await server.stop();
    }
  };

  const turns = new Map<string, Turn[]>(sides.map(([name]) => [name, []]));
  console.log(
    `this tree against ${commit}: ${rounds} rounds, one connection${flag('--burst') ? ' after a 50-connection burst' : ''}, ` +
      `${flag('--durable') ? 'durable' : 'fsync off'}, database ${db.where}`,
  );
  for (let round = 0; round < rounds; round++) {
    for (const [name, start] of round % 2 ? [...sides].reverse() : sides) {
      const measured = await turn(start);
      turns.get(name)?.push(measured);
      console.log(
        `  round ${round + 1} ${name}: HTTP p50 ${measured.http.toFixed(3)} ms, SQL p50 ${measured.sql.toFixed(3)} ms, ` +
          `gap ${(measured.http - measured.sql).toFixed(3)} ms; server CPU ${Math.round(measured.serverUs)} µs per send`,
      );
    }
  }
  for (const [name, measured] of turns) {
    const m = (pick: (t: Turn) => number) => median(measured.map(pick));
    console.log(
      `${name}: median gap ${m((t) => t.http - t.sql).toFixed(3)} ms (HTTP ${m((t) => t.http).toFixed(3)}, ` +
        `SQL ${m((t) => t.sql).toFixed(3)}); server CPU ${Math.round(m((t) => t.serverUs))} µs per send`,
    );
  }
  await sql.end();
} finally {
  await generator.stop();
  await db.close();
  await rm(worktree, { recursive: true, force: true });
  git('worktree', 'prune');
}
