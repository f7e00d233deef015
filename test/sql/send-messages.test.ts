/**
 * chat_server.send_messages, the batch the server's group commit calls: one result per item in order,
 * refusals that leave nothing behind, the same message JSON as chat.send_message, one NOTIFY per batch,
 * and many concurrent batches with overlapping conversations and senders without a deadlock.
 */
import type postgres from 'postgres';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createUsers, expectCode } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('sql: send_messages (batches)');
let db: TestDatabase;

interface Send {
  actor: string;
  conversation_id?: number | string;
  recipient?: string;
  body?: string;
  client_id?: string;
  reply_to_seq?: number;
  attachments?: string[];
}
type Result =
  | { message: Record<string, unknown> & { seq: number; id: number; body: string } }
  | { error: { code: string; message: string; hint: string | null } };

const batch = async (sql: postgres.Sql | postgres.ReservedSql, sends: unknown): Promise<Result[]> => {
  const [row] = await sql`select chat_server.send_messages(${sql.json(sends as postgres.JSONValue)}) as r`;
  return row?.r as Result[];
};
const codes = (results: Result[]) => results.map((r) => ('error' in r ? r.error.code : 'ok'));
const group = async (owner: string, members: string[]): Promise<number> => {
  const [g] = await db.sql`select * from chat.create_group(${owner}, 'Batch', ${members})`;
  return Number(g?.conversation_id);
};
const seqsOf = async (id: number) =>
  (await db.sql`select seq from chat_private.messages where conversation_id = ${id} order by seq`).map((r) =>
    Number(r.seq),
  );

/**
 * Runs `work` on a connection of its own with a send rate limit in force, then lifts it. (Not
 * onOwnSession: its `discard all` drops the statements postgres.js has prepared on the connection.)
 */
const withRateLimit = async (limit: number, work: (session: postgres.ReservedSql) => Promise<void>) => {
  const session = await db.sql.reserve();
  try {
    await session`select set_config('microchatter.send_rate_per_minute', ${String(limit)}, false)`;
    await work(session);
  } finally {
    await session`select set_config('microchatter.send_rate_per_minute', '', false)`;
    session.release();
  }
};

test.before(async () => {
  db = await freshDatabase({ max: 12 });
  await createUsers(db.sql, 'ann', 'ben', 'cat', 'dan');
});
test.after(async () => db.drop());

test('one result per item, in order: messages and refusals with code, message and hint', async () => {
  const id = await group('ann', ['ben', 'cat']);
  const results = await batch(db.sql, [
    { actor: 'ann', conversation_id: id, body: 'first' },
    { actor: 'ben', conversation_id: id, body: '   ' },
    { actor: 'dan', conversation_id: id, body: 'not a member' },
    { actor: 'nobody', conversation_id: id, body: 'unknown' },
    { actor: 'ben', conversation_id: 987654, body: 'no such chat' },
    { actor: 'ann', recipient: 'ben', body: 'by recipient' },
    { actor: 'ann', conversation_id: id, body: 'x', colour: 'red' },
    { actor: 'ann', conversation_id: 'twelve', body: 'x' },
    { actor: 'ann', conversation_id: id, reply_to_seq: 99, body: 'answers nothing' },
    'not an object',
    { actor: 'cat', conversation_id: String(id), body: 'second' },
  ]);
  assert.equal(codes(results), [
    'ok',
    'MCEMB',
    'MCNMB',
    'MCUNU',
    'MCNCV',
    'MCARG',
    'MCARG',
    'MCARG',
    'MCNMS',
    'MCARG',
    'ok',
  ]);
  const refused = results[1];
  assert.ok(refused && 'error' in refused);
  assert.is(refused.error.message, 'message body is empty');
  assert.is(refused.error.hint, null);
  // Refusals used no seq: the two messages are 1 and 2.
  assert.equal(await seqsOf(id), [1, 2]);
  await expectCode(db.sql`select chat_server.send_messages('{"actor": "ann"}')`, 'MCARG');
  await expectCode(db.sql`select chat_server.send_messages(null)`, 'MCARG');
  const tooMany = Array.from({ length: 1001 }, () => ({ actor: 'ann', conversation_id: id, body: 'x' }));
  await expectCode(batch(db.sql, tooMany), 'MCLIM');
  assert.equal(await batch(db.sql, []), []);
});

test('each message is the JSON chat.send_message returns for it', async () => {
  const id = await group('ann', ['ben']);
  const [first] =
    await db.sql`select * from chat.send_message('ben', conversation_id => ${id}, body => 'quoted')`;
  const results = await batch(db.sql, [
    {
      actor: 'ann',
      conversation_id: id,
      body: 'a reply',
      client_id: 'json-1',
      reply_to_seq: Number(first?.seq),
    },
    { actor: 'ben', conversation_id: id, body: 'plain', client_id: 'json-2' },
  ]);
  for (const [i, [actor, clientId]] of [
    ['ann', 'json-1'],
    ['ben', 'json-2'],
  ].entries()) {
    // A retry with the same client_id returns the stored message: compare it with the batch's.
    const [single] = await db.sql`
      select to_jsonb(m) as m from chat.send_message(${actor ?? ''}, conversation_id => ${id}, body => 'again',
        client_id => ${clientId ?? ''}) m`;
    const result = results[i];
    assert.ok(result && 'message' in result);
    assert.equal(result.message, single?.m);
  }
  const reply = results[0];
  assert.ok(reply && 'message' in reply);
  assert.is(reply.message.reply_to_seq, Number(first?.seq));
});

test('items of one conversation keep array order among other conversations', async () => {
  const a = await group('ann', ['ben', 'cat']);
  const b = await group('ben', ['cat', 'dan']);
  const sends: Send[] = [];
  for (let i = 0; i < 12; i++) {
    sends.push({ actor: ['ann', 'ben', 'cat'][i % 3] ?? 'ann', conversation_id: a, body: `a${i}` });
    if (i % 2)
      sends.push({ actor: ['ben', 'cat', 'dan'][i % 3] ?? 'ben', conversation_id: b, body: `b${i}` });
  }
  const results = await batch(db.sql, sends);
  assert.ok(results.every((r) => 'message' in r));
  const rows = await db.sql`
    select conversation_id, seq, body from chat_private.messages where conversation_id in (${a}, ${b})
    order by conversation_id, seq`;
  for (const id of [a, b]) {
    const bodies = rows.filter((r) => Number(r.conversation_id) === id).map((r) => r.body);
    const expected = sends.filter((s) => s.conversation_id === id).map((s) => s.body);
    assert.equal(bodies, expected);
    assert.equal(
      rows.filter((r) => Number(r.conversation_id) === id).map((r) => Number(r.seq)),
      expected.map((_, i) => i + 1),
    );
  }
});

test('client_id is idempotent within a batch and across batches', async () => {
  const id = await group('ann', ['ben']);
  const results = await batch(db.sql, [
    { actor: 'ann', conversation_id: id, body: 'once', client_id: 'idem' },
    { actor: 'ann', conversation_id: id, body: 'twice', client_id: 'idem' },
    { actor: 'ben', conversation_id: id, body: 'other sender, same id', client_id: 'idem' },
  ]);
  const ids = results.map((r) => ('message' in r ? r.message.id : null));
  assert.is(ids[0], ids[1]);
  assert.is.not(ids[0], ids[2]);
  const again = await batch(db.sql, [
    { actor: 'ann', conversation_id: id, body: 'thrice', client_id: 'idem' },
  ]);
  const [repeat] = again;
  assert.ok(repeat && 'message' in repeat);
  assert.is(repeat.message.id, ids[0]);
  assert.is(repeat.message.body, 'once');
  assert.equal(await seqsOf(id), [1, 2]);
});

test('a refused item keeps nothing: its rate token, its upload, its seq', async () => {
  const id = await group('ann', ['ben']);
  const upload = async (owner: string) => {
    const [row] = await db.sql`select chat_server.begin_attachment(${owner}, 'f.txt', 'text/plain') as id`;
    await db.sql`select chat_server.append_attachment_chunk(${row?.id}, 1, '\\x41'::bytea)`;
    await db.sql`select chat_server.finish_attachment(${row?.id})`;
    return row?.id as string;
  };
  const mine = await upload('ann');
  const bens = await upload('ben');
  await withRateLimit(2, async (session) => {
    const results = await batch(session, [
      { actor: 'ann', conversation_id: id, body: 'token 1' },
      // Refused after it took its token (attaching comes after): the token comes back.
      { actor: 'ann', conversation_id: id, body: 'not my upload', attachments: [mine, bens] },
      { actor: 'ann', conversation_id: id, body: 'token 2', attachments: [mine] },
      { actor: 'ann', conversation_id: id, body: 'no token left' },
    ]);
    assert.equal(codes(results), ['ok', 'MCATT', 'ok', 'MCRAT']);
    const limited = results[3];
    assert.ok(limited && 'error' in limited);
    assert.match(limited.error.hint ?? '', /^retry after \d+ s$/);
    const sent = results[2];
    assert.ok(sent && 'message' in sent);
    assert.is(sent.message.seq, 2);
  });
  const [ben] =
    await db.sql`select conversation_id from chat_private.attachments where attachment_id = ${bens}`;
  assert.is(ben?.conversation_id, null);
  assert.equal(await seqsOf(id), [1, 2]);
});

test('one NOTIFY per batch; no event for an item rolled back after its message was written', async () => {
  const id = await group('ann', ['ben', 'cat']);
  // A failure after the insert (a site's own trigger, say): the item's deferred event must go with it.
  await db.sql`
    create or replace function public.refuse_explosions() returns trigger language plpgsql as $$
    begin
      if new.body = 'explode' then
        raise exception using errcode = 'MCZZZ', message = 'refused after the insert';
      end if;
      return null;
    end $$`;
  await db.sql`create trigger refuse_explosions after insert on chat_private.messages
    for each row execute function public.refuse_explosions()`;
  try {
    const notifications: string[] = [];
    const listener = await db.sql.listen('microchatter_events', (payload) => notifications.push(payload));
    const [{ position: before }] = (await db.sql`select chat_server.latest_event_position() as position`) as [
      { position: number },
    ];
    const results = await batch(db.sql, [
      { actor: 'ann', conversation_id: id, body: 'one' },
      { actor: 'ben', conversation_id: id, body: 'explode' },
      { actor: 'cat', conversation_id: id, body: 'two' },
      { actor: 'ann', conversation_id: id, body: 'explode' },
      { actor: 'ben', conversation_id: id, body: 'three' },
    ]);
    assert.equal(codes(results), ['ok', 'MCZZZ', 'ok', 'MCZZZ', 'ok']);
    const events = await db.sql`select * from chat_server.read_events(${before})`;
    assert.equal(
      events.map((e) => [e.type, e.payload.message.body, e.payload.message.seq]),
      [
        ['message.created', 'one', 1],
        ['message.created', 'two', 2],
        ['message.created', 'three', 3],
      ],
    );
    const positions = events.map((e) => Number(e.position));
    assert.equal(positions, [positions[0], (positions[0] ?? 0) + 1, (positions[0] ?? 0) + 2]);
    // The listener's own round trip after the batch: notifications sent at commit have arrived.
    await db.sql`select pg_sleep(0.2)`;
    assert.is(notifications.length, 1);
    await listener.unlisten();
  } finally {
    await db.sql`drop trigger refuse_explosions on chat_private.messages`;
  }
});

test("two batches holding disjoint conversations take shared senders' buckets in one order", async () => {
  await createUsers(db.sql, 'eve', 'fay');
  const [c1, c2, c3, c4] = [
    await group('eve', ['fay']),
    await group('eve', ['fay']),
    await group('eve', ['fay']),
    await group('eve', ['fay']),
  ];
  // A slow policy hook (a site's remote check, say) on the second item of each batch: each batch has
  // sent its first item, and taken that sender's bucket, before either sends its second. Taking the
  // buckets item by item, eve's then fay's against fay's then eve's, would deadlock here.
  await db.sql`create or replace function chat_policy.before_send(actor text, conversation_id bigint, body text)
    returns text language plpgsql as $$
    begin
      if body = 'slow' then perform pg_sleep(0.3); end if;
      return body;
    end $$`;
  try {
    const results = await Promise.all([
      withRateLimit(1000, async (session) => {
        const r = await batch(session, [
          { actor: 'eve', conversation_id: c1, body: 'fast' },
          { actor: 'fay', conversation_id: c2, body: 'slow' },
        ]);
        assert.equal(codes(r), ['ok', 'ok']);
      }),
      withRateLimit(1000, async (session) => {
        await session`select pg_sleep(0.1)`;
        const r = await batch(session, [
          { actor: 'fay', conversation_id: c3, body: 'fast' },
          { actor: 'eve', conversation_id: c4, body: 'slow' },
        ]);
        assert.equal(codes(r), ['ok', 'ok']);
      }),
    ]);
    assert.is(results.length, 2);
  } finally {
    await db.sql`create or replace function chat_policy.before_send(actor text, conversation_id bigint, body text)
      returns text language sql stable as $$ select body $$`;
  }
});

test('concurrent batches and single sends over shared conversations and senders: no deadlock, no gap', async () => {
  const users = Array.from({ length: 8 }, (_, i) => `crowd${i}`);
  await db.sql`select chat_admin.import_users(${db.sql.json(users.map((user_id) => ({ user_id })))})`;
  const conversations: number[] = [];
  for (let i = 0; i < 6; i++) conversations.push(await group(users[i] ?? 'crowd0', users));
  // A deterministic spread, so that batches hold disjoint conversations while sharing senders.
  let seed = 13;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const workers = 10;
  const rounds = 15;
  const plan = Array.from({ length: workers }, (_, w) =>
    Array.from({ length: rounds }, (_, r) =>
      Array.from({ length: 1 + random(8) }, (_, k) => ({
        actor: users[random(users.length)] ?? 'crowd0',
        conversation_id: conversations[random(conversations.length)] ?? 0,
        body: `w${w} r${r} k${k}`,
      })),
    ),
  );
  const errors: string[] = [];
  let sent = 0;
  await Promise.all(
    plan.map((rounds, w) =>
      // With a limit in force, so that every send also takes its sender's bucket row.
      withRateLimit(1_000_000, async (session) => {
        for (const sends of rounds) {
          if (w % 3 === 0) {
            // Single sends from psql-like sessions, in between the batches.
            for (const s of sends) {
              await session`select chat.send_message(${s.actor}, conversation_id => ${s.conversation_id}, body => ${s.body})`;
              sent++;
            }
            continue;
          }
          const results = await batch(session, sends);
          for (const r of results) {
            if ('error' in r) errors.push(`${r.error.code} ${r.error.message}`);
            else sent++;
          }
        }
      }),
    ),
  );
  assert.equal(errors, []);
  const total = plan.flat(2).length;
  assert.is(sent, total);
  for (const id of conversations) {
    const seqs = await seqsOf(id);
    assert.equal(
      seqs,
      seqs.map((_, i) => i + 1),
    );
    const bodies = (
      await db.sql`select body from chat_private.messages where conversation_id = ${id} order by seq`
    ).map((r) => r.body as string);
    // Each worker's messages in one conversation keep the worker's order.
    for (let w = 0; w < workers; w++) {
      const own = bodies.filter((b) => b.startsWith(`w${w} `));
      const planned = plan[w]
        ?.flat()
        .filter((s) => s.conversation_id === id)
        .map((s) => s.body);
      assert.equal(own, planned);
    }
  }
});

test.run();
