/**
 * Three `server/main.ts` processes on one database, as a scaled-out deployment runs them: six users send
 * into one busy group and their direct chats through all three at once, while each user's two devices
 * hold streams that are cut and resumed (Last-Event-ID header or `?last_event_id=`) on another process
 * every few hundred milliseconds. Every device must end up with every message of its conversations
 * exactly once, in order, seq gap-free per conversation, whichever processes served it.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { ADMIN_TOKEN, JWT_SECRET } from '../helpers/http.ts';
import { type StreamClient, type StreamEvent, streamClient, tokenExpiringIn } from '../helpers/realtime.ts';
import { type ServerProcess, startServerProcess } from '../helpers/server-process.ts';

const USERS = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
/** Direct chats: pairs of USERS indexes. */
const PAIRS: [number, number][] = [
  [0, 1],
  [2, 3],
  [4, 5],
  [0, 5],
  [1, 2],
];
const MESSAGES_PER_USER = 24;
const DEVICES_PER_USER = 2;
/** How often one device (round robin) is cut and resumed on the next process. */
const MOVE_EVERY_MS = 120;

const test = suite('events: three server processes, sends and resumes spread across them');
let db: TestDatabase;
let servers: ServerProcess[] = [];
const tokens = new Map<string, string>();
const open = new Set<StreamClient>();

test.before(async () => {
  db = await freshDatabase({ max: 1 });
  const env = {
    MICROCHATTER_JWT_SECRET: JWT_SECRET,
    MICROCHATTER_ADMIN_TOKEN: ADMIN_TOKEN,
    MICROCHATTER_SEND_RATE_PER_MINUTE: '0',
    MICROCHATTER_SSE_RETRY_MS: '100',
  };
  servers = await Promise.all([0, 1, 2].map(() => startServerProcess(db, env)));
  const imported = await fetch(`${servers[0]?.url}/admin/rpc/import_users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ users: USERS.map((user_id) => ({ user_id })) }),
  });
  assert.is(imported.status, 200, await imported.text());
  for (const user of USERS) tokens.set(user, (await tokenExpiringIn(user, 600)).token);
});

test.after(async () => {
  for (const client of open) client.close();
  await Promise.all(servers.map((server) => server.stop()));
  await db?.drop();
});

const server = (i: number) => servers[i % servers.length] as ServerProcess;

async function rpc(via: ServerProcess, user: string, name: string, body: unknown) {
  const response = await fetch(`${via.url}/rpc/${name}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.get(user)}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  assert.is(response.status, 200, `${name} via ${via.url}: ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** One device of a user: the events of all its connections, in the order they arrived. */
interface Device {
  user: string;
  process: number;
  connections: number;
  /** Events with an id (everything but comments), over every connection so far. */
  received: StreamEvent[];
  current: StreamClient;
  moving: Promise<void>;
}

const cursorOf = (device: Device, client: StreamClient) =>
  client.events.filter((e) => e.id !== '').at(-1)?.id ?? device.received.filter((e) => e.id).at(-1)?.id;

async function connect(device: Device, cursor: string | undefined): Promise<StreamClient> {
  const via = server(device.process);
  const auth = { authorization: `Bearer ${tokens.get(device.user)}` };
  // Resumes alternate between the two ways a client names its cursor.
  const byHeader = device.connections % 2 === 0;
  const url =
    cursor !== undefined && !byHeader
      ? `${via.url}/events?last_event_id=${encodeURIComponent(cursor)}`
      : `${via.url}/events`;
  const client = await streamClient(
    url,
    auth,
    cursor !== undefined && byHeader ? { lastEventId: cursor } : {},
  );
  device.connections++;
  open.add(client);
  return client;
}

/** Closes the device's stream, keeps what it received, and resumes on the next process. */
function move(device: Device): Promise<void> {
  // One move at a time per device: the timed mover and the device's own user may both ask.
  device.moving = device.moving.then(async () => {
    const old = device.current;
    old.close();
    open.delete(old);
    const cursor = cursorOf(device, old);
    device.received.push(...old.events.filter((e) => e.id !== ''));
    device.process++;
    device.current = await connect(device, cursor);
  });
  return device.moving;
}

test('every device gets every message exactly once and in order, across three processes', async () => {
  // The conversations, before any stream opens: a group of all six and five direct chats.
  const group = await rpc(server(0), 'u1', 'create_group', { title: 'busy', members: USERS.slice(1) });
  const groupId = Number(group.conversation_id);
  const directs: { conversation: number; members: [string, string] }[] = [];
  for (const [i, [a, b]] of PAIRS.entries()) {
    const ua = USERS[a] as string;
    const ub = USERS[b] as string;
    const sent = await rpc(server(i), ua, 'send_message', { recipient: ub, body: 'hello' });
    directs.push({ conversation: Number(sent.conversation_id), members: [ua, ub] });
  }
  const [{ before } = { before: 0 }] = await db.sql<{ before: number }[]>`
    select coalesce(max(message_id), 0)::int as before from chat_private.messages`;

  const devices: Device[] = [];
  for (const [u, user] of USERS.entries()) {
    for (let d = 0; d < DEVICES_PER_USER; d++) {
      const device: Device = {
        user,
        process: u + d,
        connections: 0,
        received: [],
        current: undefined as unknown as StreamClient,
        moving: Promise.resolve(),
      };
      device.current = await connect(device, undefined);
      devices.push(device);
    }
  }

  // Each user sends in turn into the group and into their direct chats, each send through the next
  // process; the six users send at the same time. Meanwhile devices move between processes.
  let sending = true;
  const mover = (async () => {
    for (let i = 0; sending; i++) {
      await new Promise((resolve) => setTimeout(resolve, MOVE_EVERY_MS));
      await move(devices[i % devices.length] as Device);
    }
  })();
  const senders = USERS.map(async (user, u) => {
    const mine = directs.filter((d) => d.members.includes(user));
    for (let k = 0; k < MESSAGES_PER_USER; k++) {
      const target = k % 2 === 0 || mine.length === 0 ? groupId : (mine[k % mine.length]?.conversation ?? 0);
      await rpc(server(u + k), user, 'send_message', { conversation_id: target, body: `${user} #${k}` });
      // Every eighth send the user's devices take turns moving, while the others keep sending.
      if (k % 8 === 7) await move(devices[u * DEVICES_PER_USER + ((k >> 3) % DEVICES_PER_USER)] as Device);
    }
  });
  await Promise.all(senders);
  sending = false;
  await mover;
  // A last move for every device, so each one resumes at least once after the sends ended.
  for (const device of devices) await move(device);

  // The truth: what the database holds, per conversation in seq order.
  const rows = await db.sql<{ id: string; conversation_id: string; seq: string }[]>`
    select message_id::text as id, conversation_id::text, seq::text from chat_private.messages
    where message_id > ${before} order by conversation_id, seq`;
  assert.is(rows.length, USERS.length * MESSAGES_PER_USER, 'every send committed');
  const members = new Map<number, string[]>([
    [groupId, USERS],
    ...directs.map((d) => [d.conversation, d.members] as [number, string[]]),
  ]);
  const expectedFor = (user: string) =>
    rows.filter((row) => members.get(Number(row.conversation_id))?.includes(user)).map((row) => row.id);

  const messagesOf = (events: StreamEvent[]) => events.filter((e) => e.type === 'message.created');
  for (const device of devices) {
    const want = expectedFor(device.user).length;
    await device.current
      .until((events) => messagesOf([...device.received, ...events]).length >= want, 10_000)
      .catch(() => undefined);
  }
  // Give a duplicate the chance to arrive before the verdict.
  await new Promise((resolve) => setTimeout(resolve, 200));

  let totalConnections = 0;
  for (const device of devices) {
    const all = [...device.received, ...device.current.events.filter((e) => e.id !== '')];
    totalConnections += device.connections;
    const label = `${device.user} device after ${device.connections} connections`;
    assert.not.ok(
      all.some((e) => e.type === 'reset'),
      `${label}: a resume was refused (reset)`,
    );
    // Positions only go forward over the device's whole life (ready frames repeat the cursor).
    const logged = all.filter((e) => e.type !== 'ready').map((e) => Number(e.id));
    for (let i = 1; i < logged.length; i++) {
      assert.ok(
        (logged[i] ?? 0) > (logged[i - 1] ?? 0),
        `${label}: event ${logged[i]} after ${logged[i - 1]}`,
      );
    }
    const got = messagesOf(all).map(
      (e) => e.data.message as { id: number; conversation_id: number; seq: number },
    );
    const ids = got.map((m) => String(m.id));
    assert.is(new Set(ids).size, ids.length, `${label}: a message arrived twice`);
    assert.equal(
      [...ids].sort(),
      [...expectedFor(device.user)].sort(),
      `${label}: messages missing or foreign`,
    );
    // Per conversation: seq rises by one from the first message after the set-up to the last.
    const byConversation = new Map<number, number[]>();
    for (const m of got)
      byConversation.set(m.conversation_id, [...(byConversation.get(m.conversation_id) ?? []), m.seq]);
    for (const [conversation, seqs] of byConversation) {
      const first = seqs[0] ?? 0;
      assert.equal(
        seqs,
        seqs.map((_, i) => first + i),
        `${label}: conversation ${conversation} seq not gap-free in order`,
      );
    }
  }
  // The initial connection, three moves per user during the sends, one after: at least 42.
  const atLeast = devices.length * 2 + USERS.length * Math.floor(MESSAGES_PER_USER / 8);
  assert.ok(totalConnections >= atLeast, `${totalConnections} connections in all, ${atLeast} planned`);
});

test.run();
