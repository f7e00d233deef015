/**
 * `npm run bench:sql [-- --quick]`: how the SQL API's cost grows with the data, at SQL level.
 *
 * On a throw-away database (bench/lib/database.ts) it generates a 1M-message conversation, a 10k one,
 * an empty one, and inboxes of 10k and 100 conversations, then times the calls a chat client makes
 * most: send a message, read the newest and the oldest page, read the first inbox page. The figures
 * are ratios big ÷ small, because a chat store must not slow down as history grows. Then the send path
 * under load: a send into a 1,000-member group against a direct one, an inbox in many groups, and
 * sends per second into one conversation from 1 and 10 clients, plain and in batches (durable
 * commits; the other timings run with synchronous_commit off). Each figure is checked
 * against its target and written to bench/results/sql-<date>.json (with `--out FILE`, also in the
 * suite's schema, bench/lib/result.ts, for `npm run bench`). A missed target is reported, not an
 * error: the exit code is 1 only when the benchmark itself failed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { type BenchDatabase, openBenchDatabase } from './lib/database.ts';
import { checkConversation, createDirectChats } from './lib/generate.ts';
import {
  describeMachine,
  fileStamp,
  type Figure as NormalFigure,
  outFile,
  type PartResult,
  type Point,
  writePartResult,
} from './lib/result.ts';
import { clientTimes, serverTimes, type Timing } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const size = quick
  ? {
      big: 100_000,
      mid: 10_000,
      inboxBig: 2_000,
      inboxSmall: 100,
      rounds: 200,
      serverRounds: 50,
      warmup: 20,
      // Search: the searcher's own chats stay the same, the rest of the database grows.
      searchChats: 100,
      searchSmall: 20_000,
      searchBig: 100_000,
    }
  : {
      big: 1_000_000,
      mid: 10_000,
      inboxBig: 10_000,
      inboxSmall: 100,
      rounds: 2000,
      serverRounds: 300,
      warmup: 100,
      searchChats: 100,
      searchSmall: 100_000,
      searchBig: 1_000_000,
    };
const RATIO_TARGET = 1.2;

interface Figure {
  name: string;
  value: number;
  unit: 'ratio' | 'ms';
  target?: number;
  /** How the value must compare with the target: ≤ unless said (throughput ratios are ≥). */
  op?: '<=' | '>=';
  met?: boolean;
  /** Replaces the p50s in the suite's note, for figures that are not made of latencies. */
  note?: string;
  /** p50/mean/p95 in ms of the calls behind the figure, client-side and server-side. */
  client: Timing[];
  server: Timing[];
}

const short = (n: number) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : String(n));
const ms = (x: number) => x.toFixed(x < 10 ? 2 : 1);

function verdict(figure: Figure): string {
  if (figure.target === undefined) return '(no target)';
  const unit = figure.unit === 'ms' ? ' ms' : '';
  const op = figure.op === '>=' ? '≥' : '≤';
  return `target ${op} ${figure.target}${unit} ${figure.met ? '✓' : '✗ MISSED'}`;
}

function ratio(name: string, [a, b]: Timing[], [sa, sb]: Timing[], target?: number): Figure {
  if (!a || !b || !sa || !sb) throw new Error(`missing timings for ${name}`);
  const value = a.p50 / b.p50;
  const met = target === undefined ? undefined : value <= target;
  const figure: Figure = { name, value, unit: 'ratio', target, met, client: [a, b], server: [sa, sb] };
  console.log(
    `${name}: ${value.toFixed(2)} (p50 ${ms(a.p50)} ms vs ${ms(b.p50)} ms; mean ${ms(a.mean)} vs ${ms(b.mean)}; ` +
      `server p50 ${ms(sa.p50)} vs ${ms(sb.p50)}) ${verdict(figure)}`,
  );
  return figure;
}

function absolute(name: string, a: Timing | undefined, sa: Timing | undefined, target: number): Figure {
  if (!a || !sa) throw new Error(`missing timings for ${name}`);
  const figure: Figure = {
    name,
    value: a.p50,
    unit: 'ms',
    target,
    met: a.p50 <= target,
    client: [a],
    server: [sa],
  };
  console.log(
    `${name}: ${ms(a.p50)} ms (mean ${ms(a.mean)}, p95 ${ms(a.p95)}; server p50 ${ms(sa.p50)}) ${verdict(figure)}`,
  );
  return figure;
}

/** Times the queries interleaved, client-side then server-side. */
async function time(sql: postgres.Sql, queries: string[]): Promise<[Timing[], Timing[]]> {
  const client = await clientTimes(sql, queries, size.rounds, size.warmup);
  const server = await serverTimes(sql, queries, size.serverRounds, size.warmup);
  return [client, server];
}

async function seconds<T>(label: string, work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await work();
  console.log(`  ${label}: ${((performance.now() - start) / 1000).toFixed(1)} s`);
  return result;
}

type Settings = Record<'version' | 'shared_buffers' | 'fsync' | 'synchronous_commit' | 'jit', string>;

/** The server settings that move the figures, printed and kept in the results file. */
async function serverSettings(sql: postgres.Sql): Promise<Settings> {
  const [settings] = await sql<Settings[]>`
    select version(), current_setting('shared_buffers') as shared_buffers, current_setting('fsync') as fsync,
           current_setting('synchronous_commit') as synchronous_commit, current_setting('jit') as jit`;
  if (!settings) throw new Error('could not read the server settings');
  return settings;
}

/** Client-side p50 in ms by conversation size (messages), for the suite's cost-vs-size plot. */
type Series = Record<string, Point[]>;

async function run(
  sql: postgres.Sql,
  url: string,
  where: string,
  settings: Settings,
): Promise<{ figures: Figure[]; series: Series }> {
  console.log(
    `bench:sql${quick ? ' --quick' : ''}: ${settings.version.replace(/ on .*/, '')} (${where}), ` +
      `${os.availableParallelism()} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB; shared_buffers ` +
      `${settings.shared_buffers}, fsync ${settings.fsync}, synchronous_commit ${settings.synchronous_commit}`,
  );

  console.log('generating data');
  const chat = (owner: string, peerPrefix: string, chats: number, messagesPerChat: number) =>
    createDirectChats(sql, { owner, peerPrefix, chats, messagesPerChat });
  const [big] = await seconds(`${short(size.big)}-message conversation`, () =>
    chat('sender', 'big_', 1, size.big),
  );
  const [mid] = await chat('sender', 'mid_', 1, size.mid);
  const [empty] = await chat('sender', 'empty_', 1, 0);
  await seconds(
    `inboxes of ${short(size.inboxBig)} and ${short(size.inboxSmall)} conversations`,
    async () => {
      await chat('inbox_big', 'inbox_big_peer_', size.inboxBig, 2);
      await chat('inbox_small', 'inbox_small_peer_', size.inboxSmall, 2);
    },
  );
  if (!big || !mid || !empty) throw new Error('conversations were not created');
  for (const id of [big, mid, empty]) await checkConversation(sql, id);
  await seconds('vacuum analyze', () => sql`vacuum analyze`);

  const figures: Figure[] = [];
  console.log('timing');

  // Reads first, on freshly vacuumed tables; the sends afterwards add rows to the three conversations.
  // The pages of the smaller conversations are timed for the plot only (the empty one has no rows).
  const newest = (id: string) => `select * from chat.list_messages('sender', ${id})`;
  const oldest = (id: string) => `select * from chat.list_messages('sender', ${id}, before_seq => 51)`;
  const [pages, pagesServer] = await time(sql, [
    oldest(big),
    newest(big),
    oldest(mid),
    newest(mid),
    newest(empty),
  ]);
  figures.push(ratio(`oldest page @${short(size.big)} ÷ newest page`, pages, pagesServer, RATIO_TARGET));
  figures.push(absolute(`newest page @${short(size.big)} p50`, pages[1], pagesServer[1], 1));

  const inboxes = ['inbox_big', 'inbox_small'].map(
    (user) => `select * from chat.list_conversations('${user}')`,
  );
  const [inbox, inboxServer] = await time(sql, inboxes);
  figures.push(
    absolute(`inbox page @${short(size.inboxBig)} conversations p50`, inbox[0], inboxServer[0], 2),
  );
  figures.push(
    ratio(
      `inbox page @${short(size.inboxBig)} ÷ @${short(size.inboxSmall)} conversations`,
      inbox,
      inboxServer,
      RATIO_TARGET,
    ),
  );

  figures.push(await groupInbox(sql));

  const send = (id: string) =>
    `select * from chat.send_message('sender', conversation_id => ${id}, body => 'Hello from the benchmark')`;
  const [sends, sendsServer] = await time(sql, [send(big), send(mid), send(empty)]);
  const [atBig, atMid, atEmpty] = sends;
  const [serverBig, serverMid, serverEmpty] = sendsServer;
  if (!atBig || !atMid || !atEmpty || !serverBig || !serverMid || !serverEmpty)
    throw new Error('missing send timings');
  figures.push(
    ratio(`send @${short(size.big)} ÷ send @empty`, [atBig, atEmpty], [serverBig, serverEmpty], RATIO_TARGET),
  );
  figures.push(ratio(`send @${short(size.mid)} ÷ send @empty`, [atMid, atEmpty], [serverMid, serverEmpty]));

  // The send rate limit is one more statement in the send's transaction (chat_private.take_send_token);
  // both sides set the session setting, so only the take differs. No commit flush here (see main):
  // against a durable send, or one over HTTP, the same difference is a smaller share.
  const sendLimitedTo = (limit: number) =>
    `select m.* from (select set_config('microchatter.send_rate_per_minute', '${limit}', false)) s, ` +
    `chat.send_message('sender', conversation_id => ${empty}, body => 'rate limited') m`;
  const [limited, limitedServer] = await time(sql, [sendLimitedTo(1_000_000_000), sendLimitedTo(0)]);
  await sql`select set_config('microchatter.send_rate_per_minute', '0', false)`;
  figures.push(ratio('send with the shared rate limit ÷ without', limited, limitedServer));

  figures.push(...(await changes(sql, mid)));
  figures.push(...(await fanOut(sql)));
  figures.push(...(await concurrency(sql, url)));
  figures.push(...(await search(sql)));

  const p50s = (points: [number, Timing | undefined][]): Point[] =>
    points.map(([x, timing]) => ({ x, y: timing?.p50 ?? Number.NaN }));
  const series: Series = {
    send: p50s([
      [0, atEmpty],
      [size.mid, atMid],
      [size.big, atBig],
    ]),
    'newest page': p50s([
      [0, pages[4]],
      [size.mid, pages[3]],
      [size.big, pages[1]],
    ]),
    'oldest page (before_seq 51)': p50s([
      [size.mid, pages[2]],
      [size.big, pages[0]],
    ]),
  };
  return { figures, series };
}

/**
 * Editing and reacting against sending, in the same conversation, interleaved. Each call changes a
 * message not changed before (a sequence walks through the sender's messages), as people do: an edit
 * or reaction that changes nothing returns early and would flatter the figure.
 */
async function changes(sql: postgres.Sql, conversationId: string): Promise<Figure[]> {
  const [sender] = await sql<{ first: number; step: number }[]>`
    select min(seq)::int as first from chat_private.messages
    where conversation_id = ${conversationId} and sender = 'sender'`;
  if (!sender) throw new Error('the sender has no message to edit');
  await sql`create temporary sequence if not exists bench_edit_target`;
  await sql`create temporary sequence if not exists bench_react_target`;
  // The generated chat alternates senders: the sender's messages are every other seq.
  const edit =
    `select * from chat.edit_message('sender', ${conversationId}, ${sender.first} + 2 * (nextval('bench_edit_target') - 1), ` +
    `'Edited by the benchmark, about as long as the line it replaces')`;
  const react = `select * from chat.react('sender', ${conversationId}, nextval('bench_react_target'), '👍')`;
  const send = `select * from chat.send_message('sender', conversation_id => ${conversationId}, body => 'Hello from the benchmark')`;
  const [[edits, reacts, sends], [editsServer, reactsServer, sendsServer]] = await time(sql, [
    edit,
    react,
    send,
  ]);
  if (!edits || !reacts || !sends || !editsServer || !reactsServer || !sendsServer)
    throw new Error('missing edit/react timings');
  return [
    ratio('edit ÷ send', [edits, sends], [editsServer, sendsServer], RATIO_TARGET),
    ratio('react ÷ send', [reacts, sends], [reactsServer, sendsServer], RATIO_TARGET),
  ];
}

/**
 * The inbox of a user in many groups against one with as many direct chats as they have in all: a
 * group's activity is on its conversation row, so a page reads and sorts all of the user's current
 * groups (docs/sql-api.md), where direct chats are a page of an index. Each group has had a message.
 */
async function groupInbox(sql: postgres.Sql): Promise<Figure> {
  const groups = quick ? 200 : 1000;
  await createDirectChats(sql, {
    owner: 'inbox_groups',
    peerPrefix: 'inbox_groups_d_',
    chats: 100,
    messagesPerChat: 2,
  });
  await createDirectChats(sql, {
    owner: 'inbox_direct',
    peerPrefix: 'inbox_direct_d_',
    chats: 100 + groups,
    messagesPerChat: 2,
  });
  await sql`select chat_admin.create_user('inbox_groups_peer')`;
  await sql`
    select chat.send_message('inbox_groups_peer', conversation_id => g.conversation_id, body => 'hello group')
    from generate_series(1, ${groups}::int) i,
    lateral chat.create_group('inbox_groups_peer', 'Group ' || i, array['inbox_groups']) g`;
  await sql`vacuum analyze`;
  const [client, server] = await time(sql, [
    `select * from chat.list_conversations('inbox_groups')`,
    `select * from chat.list_conversations('inbox_direct')`,
  ]);
  return ratio(
    `inbox page in ${groups} groups + 100 direct chats ÷ in ${groups + 100} direct chats`,
    client,
    server,
  );
}

/**
 * A send into a group of 1,000 members against a send into a direct chat, interleaved: what a send
 * costs per member of its conversation.
 */
async function fanOut(sql: postgres.Sql): Promise<Figure[]> {
  const members = Array.from({ length: 999 }, (_, i) => `fan_${i}`);
  await sql`select chat_admin.import_users(${sql.json(members.map((user_id) => ({ user_id })))})`;
  const [group] = await sql<{ id: string }[]>`
    select conversation_id as id from chat.create_group('sender', 'A thousand', ${members})`;
  const [direct] = await sql<{ id: string }[]>`
    select conversation_id as id from chat.send_message('sender', recipient => 'fan_0', body => 'hi')`;
  if (!group || !direct) throw new Error('fan-out conversations were not created');
  const send = (id: string) =>
    `select * from chat.send_message('sender', conversation_id => ${id}, body => 'Hello from the benchmark')`;
  const [client, server] = await time(sql, [send(group.id), send(direct.id)]);
  return [ratio('send into a 1000-member group ÷ a direct send', client, server, 2)];
}

/**
 * Sends per second into one conversation from 1 client and from 10 at once, each client a member of
 * its own calling chat.send_message in a loop, or chat_server.send_messages with batches of 10 (what
 * the server's group commit sends). Durable commits (synchronous_commit on), unlike the timings above:
 * the commit flush is what concurrent senders queue behind. Windows of 1 and 10 clients alternate,
 * three of each; the figures are medians.
 */
async function concurrency(sql: postgres.Sql, url: string): Promise<Figure[]> {
  const clients = 10;
  const windowMs = quick ? 1000 : 3000;
  const senders = Array.from({ length: clients }, (_, i) => `busy_${i}`);
  await sql`select chat_admin.import_users(${sql.json(senders.map((user_id) => ({ user_id })))})`;
  const [group] = await sql<{ id: string }[]>`
    select conversation_id as id from chat.create_group('busy_0', 'Busy', ${senders})`;
  if (!group) throw new Error('the busy group was not created');
  const pool = postgres(url, {
    max: clients,
    onnotice: () => {},
    connection: { application_name: 'microchatter-bench', synchronous_commit: 'on' },
  });
  const batchOf = (sender: string) =>
    pool.json(
      Array.from({ length: 10 }, (_, k) => ({
        actor: sender,
        conversation_id: group.id,
        body: `batched ${k}`,
      })),
    );
  const calls = {
    plain: async (session: postgres.ReservedSql, sender: string) => {
      await session`select chat.send_message(${sender}, conversation_id => ${group.id}, body => 'concurrent')`;
      return 1;
    },
    batch: async (session: postgres.ReservedSql, sender: string) => {
      await session`select chat_server.send_messages(${batchOf(sender)})`;
      return 10;
    },
  };
  type Kind = keyof typeof calls;
  const sessions = await Promise.all(senders.map(() => pool.reserve()));
  const rate = async (kind: Kind, n: number): Promise<number> => {
    const deadline = performance.now() + windowMs;
    const start = performance.now();
    const counts = await Promise.all(
      sessions.slice(0, n).map(async (session, i) => {
        let sent = 0;
        while (performance.now() < deadline) sent += await calls[kind](session, senders[i] ?? 'busy_0');
        return sent;
      }),
    );
    return counts.reduce((a, b) => a + b, 0) / ((performance.now() - start) / 1000);
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const rates: Record<string, number[]> = {};
  try {
    const [setting] = await (sessions[0] ?? pool)<{ fsync: string; synchronous_commit: string }[]>`
      select current_setting('fsync') as fsync, current_setting('synchronous_commit') as synchronous_commit`;
    console.log(
      `  sends/s into one conversation: fsync ${setting?.fsync}, synchronous_commit ${setting?.synchronous_commit}, ` +
        `windows of ${windowMs} ms`,
    );
    for (const kind of ['plain', 'batch'] as Kind[]) await rate(kind, clients); // warm-up
    for (let round = 0; round < 3; round++) {
      for (const kind of ['plain', 'batch'] as Kind[]) {
        for (const n of [1, clients]) {
          const key = `${kind} ${n}`;
          rates[key] = [...(rates[key] ?? []), await rate(kind, n)];
        }
      }
    }
  } finally {
    for (const session of sessions) session.release();
    await pool.end();
  }
  const perSecond = (key: string) => median(rates[key] ?? []);
  const figure = (name: string, a: string, b: string, target?: number): Figure => {
    const value = perSecond(a) / perSecond(b);
    const note = `${a}: ${perSecond(a).toFixed(0)}/s vs ${b}: ${perSecond(b).toFixed(0)}/s; rounds ${(
      rates[a] ?? []
    )
      .map((x) => x.toFixed(0))
      .join(' ')} vs ${(rates[b] ?? []).map((x) => x.toFixed(0)).join(' ')}`;
    const result: Figure = {
      name,
      value,
      unit: 'ratio',
      target,
      op: '>=',
      met: target === undefined ? undefined : value >= target,
      client: [],
      server: [],
      note,
    };
    console.log(`${name}: ${value.toFixed(2)} (${note}) ${verdict(result)}`);
    return result;
  };
  // Single sends into one conversation cannot gain from more senders: each holds the conversation
  // through its own commit. The batch path is the one to use under concurrency (docs/sql-api.md): what
  // the server's group commit turns 10 concurrent senders into (one batch in flight), against one
  // client sending alone, carries the target. The other two show why.
  return [
    figure('send_message sends/s, one conversation: 10 clients ÷ 1 client', `plain ${clients}`, 'plain 1'),
    figure(
      'send_messages (batches of 10) sends/s, one conversation: 10 clients ÷ 1 client',
      `batch ${clients}`,
      'batch 1',
    ),
    figure(
      '10 concurrent senders through the batch path (send_messages, batches of 10, one in flight) ÷ send_message, 1 client',
      'batch 1',
      'plain 1',
      1,
    ),
    figure(
      'send_messages (batches of 10), 1 client ÷ send_message, 10 clients',
      'batch 1',
      `plain ${clients}`,
    ),
  ];
}

/**
 * Search in a database of size.searchSmall messages, then of size.searchBig: 100-message direct chats,
 * the searcher in size.searchChats of them, a query matching 0.1% of all messages. The earlier cases'
 * data is truncated first, so the database holds exactly these messages.
 */
async function search(sql: postgres.Sql): Promise<Figure[]> {
  const perChat = 100;
  await sql`truncate chat_private.conversations, chat_private.users cascade`;
  const chats = (owner: string, chats: number) =>
    createDirectChats(sql, { owner, peerPrefix: `${owner}_peer_`, chats, messagesPerChat: perChat });
  const query = `select * from chat.search_messages('searcher', 'k417')`;
  const timeAt = async (messages: number): Promise<[Timing, Timing]> => {
    await seconds(`vacuum analyze @${short(messages)} messages`, () => sql`vacuum analyze`);
    const [[client], [server]] = await time(sql, [query]);
    if (!client || !server) throw new Error('missing search timings');
    return [client, server];
  };

  await seconds(`search database of ${short(size.searchSmall)} messages`, async () => {
    await chats('searcher', size.searchChats);
    await chats('crowd_a', size.searchSmall / perChat - size.searchChats);
  });
  const [found] = await sql<
    { n: number }[]
  >`select count(*)::int as n from chat.search_messages('searcher', 'k417', "limit" => 100)`;
  console.log(`  the query finds ${found?.n} of the searcher's messages`);
  const [small, smallServer] = await timeAt(size.searchSmall);
  await seconds(`grown to ${short(size.searchBig)} messages`, () =>
    chats('crowd_b', (size.searchBig - size.searchSmall) / perChat),
  );
  const [big, bigServer] = await timeAt(size.searchBig);
  return [
    absolute(`search @${short(size.searchBig)} messages p50`, big, bigServer, 20),
    ratio(
      `search @${short(size.searchBig)} ÷ @${short(size.searchSmall)} messages`,
      [big, small],
      [bigServer, smallServer],
      3,
    ),
  ];
}

/** A figure in the suite's schema (bench/lib/result.ts): a ratio of p50s, or a p50 in ms. */
function normalize({ name, value, unit, target, op, met, client, server, note }: Figure): NormalFigure {
  const p50s = (timings: Timing[]) => timings.map((timing) => ms(timing.p50)).join(' vs ');
  const normal: NormalFigure = {
    name,
    value,
    unit: unit === 'ratio' ? '×' : 'ms',
    note: note ?? `p50 ${p50s(client)} ms, server-side ${p50s(server)} ms`,
  };
  const [, baseline] = name.split(' ÷ ');
  if (baseline && client[1]) normal.baseline = { name: `${baseline}, p50 ms`, value: client[1].p50 };
  if (target !== undefined) normal.target = { op: op ?? '<=', value: target };
  if (met !== undefined) normal.met = met;
  return normal;
}

async function writeResults(figures: Figure[], where: string, settings: Settings): Promise<string> {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
  await mkdir(dir, { recursive: true });
  const date = fileStamp();
  const file = path.join(dir, `sql-${date}${quick ? '-quick' : ''}.json`);
  const machine = {
    cpus: os.availableParallelism(),
    cpu_model: os.cpus()[0]?.model,
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    database: where,
  };
  const command = `npm run bench:sql${quick ? ' -- --quick' : ''}`;
  await writeFile(
    file,
    `${JSON.stringify({ date: new Date().toISOString(), command, machine, settings, size, figures }, null, 2)}\n`,
  );
  return path.relative(process.cwd(), file);
}

async function main(): Promise<number> {
  const start = performance.now();
  let db: BenchDatabase | undefined;
  try {
    db = await openBenchDatabase();
    // Commits do not wait for the WAL flush, so a send's time is the SQL's work, whatever the disk.
    const sql = postgres(db.url, {
      max: 1,
      onnotice: () => {},
      connection: { application_name: 'microchatter-bench', synchronous_commit: 'off' },
    });
    try {
      const settings = await serverSettings(sql);
      const { figures, series } = await run(sql, db.url, db.where, settings);
      const file = await writeResults(figures, db.where, settings);
      const out = outFile();
      if (out) {
        const result: PartResult = {
          part: 'sql',
          quick,
          machine: describeMachine(settings.version, db.where),
          figures: figures.map(normalize),
          series,
        };
        await writePartResult(out, result);
      }
      const missed = figures.filter((figure) => figure.met === false).length;
      console.log(
        `${missed ? `${missed} target(s) missed` : 'all targets met'}; results in ${file} ` +
          `(${((performance.now() - start) / 1000).toFixed(0)} s)`,
      );
    } finally {
      await sql.end();
    }
    return 0;
  } catch (error) {
    console.error(`bench:sql failed: ${error instanceof Error ? (error.stack ?? error.message) : error}`);
    return 1;
  } finally {
    await db?.close();
  }
}

process.exitCode = await main();
