/**
 * Group commit (server/send-batch.ts): concurrent sends into one conversation are applied together by
 * chat_server.send_messages, and each caller still gets exactly its own answer.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { connectDatabase } from '../../server/db.ts';
import { type TestApp, testApp } from '../helpers/http.ts';

const test = suite('http: group commit');
let t: TestApp;
let group: number;
const members = Array.from({ length: 8 }, (_, i) => `gc_${i}`);

test.before(async () => {
  t = await testApp();
  await t.call('admin', '/admin/rpc/import_users', { users: members.map((user_id) => ({ user_id })) });
  const created = await t.call(members[0] ?? '', '/rpc/create_group', {
    title: 'busy',
    members: members.slice(1),
  });
  group = (created.body as { conversation_id: number }).conversation_id;
});
test.after(async () => t.close());

type Answer = { status: number; body: { seq?: number; body?: string; error?: { code: string } } };
const send = (user: string, args: Record<string, unknown>) =>
  t.call(user, '/rpc/send_message', { conversation_id: group, ...args }) as Promise<Answer>;

/** message.created events in the log so far. */
async function createdEvents(): Promise<number> {
  const [row] = await t.db.sql<{ n: number }[]>`
    select count(*)::int as n from chat_private.events where type = 'message.created'`;
  return row?.n ?? 0;
}

test('concurrent sends each get their own message, with gap-free seq in one order', async () => {
  const before = await createdEvents();
  const answers = await Promise.all(
    Array.from({ length: 40 }, (_, i) => send(members[i % members.length] ?? '', { body: `m${i}` })),
  );
  for (const [i, answer] of answers.entries()) {
    assert.is(answer.status, 200, JSON.stringify(answer.body));
    assert.is(answer.body.body, `m${i}`);
  }
  const seqs = answers.map((a) => a.body.seq ?? 0).sort((a, b) => a - b);
  const first = seqs[0] ?? 0;
  assert.equal(
    seqs,
    Array.from({ length: 40 }, (_, i) => first + i),
  );
  // The answer is the stored message, as list_messages shows it.
  const listed = await t.call(members[0] ?? '', `/rpc/list_messages?conversation_id=${group}&limit=40`);
  const stored = new Map((listed.body as Answer['body'][]).map((m) => [m.seq, m]));
  for (const answer of answers) assert.equal(stored.get(answer.body.seq), answer.body);
  assert.is((await createdEvents()) - before, 40);
});

test('sends really went together: fewer transactions than messages', async () => {
  // Events are written at commit, by the top-level transaction: one xmin per batch (items run in
  // subtransactions of their own, so the messages' xmin would not tell).
  const transactions = () => t.db.sql<{ n: number; events: number }[]>`
    select count(distinct xmin::text)::int as n, count(*)::int as events from chat_private.events
    where type = 'message.created' and (payload ->> 'conversation_id')::bigint = ${group}`;
  const [before] = await transactions();
  await Promise.all(
    Array.from({ length: 30 }, (_, i) => send(members[i % members.length] ?? '', { body: `x${i}` })),
  );
  const [after] = await transactions();
  assert.is((after?.events ?? 0) - (before?.events ?? 0), 30);
  const used = (after?.n ?? 0) - (before?.n ?? 0);
  assert.ok(used < 30, `30 messages in ${used} transactions`);
});

test('sends into different conversations go together too', async () => {
  const others: number[] = [];
  for (let i = 0; i < 4; i++) {
    const created = await t.call(members[0] ?? '', '/rpc/create_group', {
      title: `other ${i}`,
      members: members.slice(1, 3),
    });
    others.push((created.body as { conversation_id: number }).conversation_id);
  }
  const transactions = () => t.db.sql<{ n: number; events: number }[]>`
    select count(distinct xmin::text)::int as n, count(*)::int as events from chat_private.events
    where type = 'message.created' and (payload ->> 'conversation_id')::bigint in ${t.db.sql(others)}`;
  const [before] = await transactions();
  const answers = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      t.call(members[i % 3] ?? '', '/rpc/send_message', { conversation_id: others[i % 4], body: `o${i}` }),
    ),
  );
  assert.equal(new Set(answers.map((a) => a.status)), new Set([200]));
  const [after] = await transactions();
  assert.is((after?.events ?? 0) - (before?.events ?? 0), 40);
  assert.ok((after?.n ?? 0) - (before?.n ?? 0) < 40, 'some sends shared a transaction');
  // Each conversation's seqs are gap-free.
  for (const id of others) {
    const rows = await t.db.sql<{ seq: number }[]>`
      select seq from chat_private.messages where conversation_id = ${id} order by seq`;
    assert.equal(
      rows.map((r) => r.seq),
      Array.from({ length: rows.length }, (_, i) => i + 1),
    );
  }
});

test('conversations locked elsewhere hold up their own sends, not the others', async () => {
  const locked: number[] = [];
  for (const title of ['locked 1', 'locked 2', 'locked 3']) {
    const created = await t.call(members[0] ?? '', '/rpc/create_group', {
      title,
      members: [members[1] ?? ''],
    });
    locked.push((created.body as { conversation_id: number }).conversation_id);
  }
  const holder = connectDatabase(t.db.url, { max: 1 });
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  // A psql-like session that sent and has not committed yet.
  const holding = holder.begin(async (tx) => {
    for (const id of locked) {
      await tx`select from chat.send_message(${members[0] ?? ''}, conversation_id => ${id}, body => 'slow')`;
    }
    await released;
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, 100));
    let answered = 0;
    const stuck = Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        t
          .call(members[1] ?? '', '/rpc/send_message', { conversation_id: locked[i % 3], body: `waits ${i}` })
          .then((a) => {
            answered++;
            return a.status;
          }),
      ),
    );
    // Meanwhile the busy group goes on, batch after batch.
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) => send(members[i] ?? '', { body: `free ${round}.${i}` })),
      );
      assert.equal(
        answers.map((a) => a.status),
        Array(6).fill(200),
      );
    }
    assert.is(answered, 0, 'the locked conversations wait');
    release();
    await holding;
    assert.equal(await stuck, Array(6).fill(200));
  } finally {
    release();
    await holder.end();
  }
});

test('a refused send in a batch gets its own error, and the others go through', async () => {
  const outsider = 'gc_outsider';
  await t.call('admin', '/admin/rpc/import_users', { users: [{ user_id: outsider }] });
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      i % 5 === 2
        ? send(outsider, { body: `no ${i}` })
        : i % 5 === 4
          ? send(members[1] ?? '', { body: 'x'.repeat(5000) })
          : send(members[i % members.length] ?? '', { body: `ok ${i}` }),
    ),
  );
  for (const [i, answer] of answers.entries()) {
    if (i % 5 === 2) assert.equal([answer.status, answer.body.error?.code], [403, 'MCNMB']);
    else if (i % 5 === 4) assert.equal([answer.status, answer.body.error?.code], [413, 'MCLNG']);
    else assert.is(answer.body.body, `ok ${i}`);
  }
  const [{ n }] = await t.db.sql<{ n: number }[]>`
    select count(*)::int as n from chat_private.messages where sender = ${outsider} or length(body) > 4000`;
  assert.is(n, 0);
});

test('client_id stays idempotent when its retries arrive in the same batch', async () => {
  const answers = await Promise.all(
    Array.from({ length: 10 }, () => send(members[2] ?? '', { body: 'once', client_id: 'gc-once' })),
  );
  const seqs = new Set(answers.map((a) => a.body.seq));
  assert.is(seqs.size, 1);
  const [{ n }] = await t.db.sql<{ n: number }[]>`
    select count(*)::int as n from chat_private.messages where client_id = 'gc-once'`;
  assert.is(n, 1);
});

test('a send rate limit refuses within a batch with 429 and Retry-After, like a send alone', async () => {
  const limited = connectDatabase(t.db.url, { max: 4, sendRatePerMinute: 3 });
  try {
    const app = createApp({ ...t.options, sql: limited });
    const token = await t.tokenFor(members[3] ?? '');
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        app.request('/rpc/send_message', {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ conversation_id: group, body: `limited ${i}` }),
        }),
      ),
    );
    const statuses = responses.map((r) => r.status).sort();
    assert.equal(statuses, [200, 200, 200, 429, 429, 429, 429, 429]);
    for (const r of responses.filter((r) => r.status === 429))
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
  } finally {
    await limited.end();
  }
});

test('with group commit off, the same sends are answered the same way', async () => {
  const app = createApp({ ...t.options, groupCommit: false });
  const token = await t.tokenFor(members[4] ?? '');
  const responses = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      app.request('/rpc/send_message', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ conversation_id: group, body: `plain ${i}` }),
      }),
    ),
  );
  assert.equal(
    responses.map((r) => r.status),
    Array(10).fill(200),
  );
});

test("sends run on at most two lanes of their own, a lone sender's on the one used last", async () => {
  const lanes: ReturnType<typeof connectDatabase>[] = [];
  const openSendLane = () => {
    const lane = connectDatabase(t.db.url, { max: 1, applicationName: 'microchatter-sends' });
    lanes.push(lane);
    return lane;
  };
  const app = createApp({ ...t.options, openSendLane });
  const token = await t.tokenFor(members[6] ?? '');
  const other = await t.call(members[6] ?? '', '/rpc/create_group', {
    title: 'lanes',
    members: [members[7]],
  });
  const otherGroup = (other.body as { conversation_id: number }).conversation_id;
  const sendOne = (body: string, conversationId = group) =>
    app.request('/rpc/send_message', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ conversation_id: conversationId, body }),
    });
  const laneBackends = () =>
    t.db.sql<{ pid: number; state_change: string }[]>`
      select pid, state_change::text from pg_stat_activity
      where application_name = 'microchatter-sends' and datname = current_database()`;
  try {
    // A burst into two conversations opens both lanes (two calls in flight), never more.
    const burst = await Promise.all(
      Array.from({ length: 30 }, (_, i) => sendOne(`burst ${i}`, i % 2 ? group : otherGroup)),
    );
    assert.ok(burst.every((r) => r.status === 200));
    assert.is(lanes.length, 2);
    const [startedAt] = await t.db.sql<{ now: string }[]>`select clock_timestamp()::text as now`;
    for (let i = 0; i < 10; i++) assert.is((await sendOne(`alone ${i}`)).status, 200);
    const used = (await laneBackends()).filter((b) => b.state_change > (startedAt?.now ?? ''));
    assert.is(used.length, 1, 'one sender, one send at a time: one backend');
    assert.is(lanes.length, 2);
    // A lane whose connection is cut connects again by itself.
    await t.db.sql`select pg_terminate_backend(pid) from pg_stat_activity
      where application_name = 'microchatter-sends' and datname = current_database()`;
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (let i = 0; i < 3; i++) assert.is((await sendOne(`after the cut ${i}`)).status, 200);
    assert.is(lanes.length, 2);
  } finally {
    await Promise.all(lanes.map((lane) => lane.end()));
  }
});

test('MICROCHATTER_SEND_SYNCHRONOUS_COMMIT=false reaches the sending transactions, and only those', async () => {
  const config = loadConfig({
    MICROCHATTER_SEND_SYNCHRONOUS_COMMIT: 'false',
    MICROCHATTER_JWT_SECRET: 'x'.repeat(32),
  });
  assert.is(config.sendSynchronousCommit, false);
  const relaxed = connectDatabase(t.db.url, { max: 1, sendSynchronousCommit: config.sendSynchronousCommit });
  const durable = connectDatabase(t.db.url, { max: 1 });
  try {
    const inSend = (sql: typeof relaxed) =>
      sql.begin(async (tx) => {
        // Test clusters run with synchronous_commit off throughout: start from the durable default.
        const before = await tx<{ s: string }[]>`select set_config('synchronous_commit', 'on', true) as s`;
        await tx`select from chat.send_message(${members[5] ?? ''}, conversation_id => ${group}, body => 'relaxed?')`;
        const after = await tx<{ s: string }[]>`select current_setting('synchronous_commit') as s`;
        return [before[0]?.s, after[0]?.s];
      });
    assert.equal(await inSend(relaxed), ['on', 'off']);
    assert.equal(await inSend(durable), ['on', 'on']);
  } finally {
    await relaxed.end();
    await durable.end();
  }
});

test.run();
