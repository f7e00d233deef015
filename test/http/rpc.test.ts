import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type TestApp, testApp } from '../helpers/http.ts';

const test = suite('http: RPC endpoints derived from the SQL schema');
let t: TestApp;

test.before(async () => {
  t = await testApp();
  const created = await t.call('admin', '/admin/rpc/import_users', {
    users: [{ user_id: 'alice', display_name: 'Alice' }, { user_id: 'bob' }, { user_id: 'carol' }],
  });
  assert.is(created.status, 200);
});
test.after(async () => t.close());

type Json = Record<string, unknown>;

test('a user sends, lists, reads and counts through POST and GET', async () => {
  const sent = await t.call('alice', '/rpc/send_message', { recipient: 'bob', body: 'Hi Bob' });
  assert.is(sent.status, 200);
  const message = sent.body as Json;
  assert.is(message.sender, 'alice');
  assert.is(message.seq, 1);
  assert.type(message.conversation_id, 'number');
  assert.type(message.sent_at, 'string');

  const inbox = await t.call('bob', '/rpc/list_conversations');
  assert.is(inbox.status, 200);
  const [row, ...others] = inbox.body as Json[];
  assert.is(others.length, 0);
  assert.is(row?.unread, 1);
  assert.is((row?.last_message as Json | undefined)?.body, 'Hi Bob');

  const page = await t.call('bob', `/rpc/list_messages?conversation_id=${message.conversation_id}&limit=10`);
  assert.is(page.status, 200);
  assert.equal(
    (page.body as Json[]).map((m) => m.body),
    ['Hi Bob'],
  );

  const read = await t.call('bob', '/rpc/mark_read', { conversation_id: message.conversation_id });
  assert.is((read.body as Json).unread, 0);
  const counts = await t.call('bob', '/rpc/unread_count');
  assert.equal(counts.body, { total: 0, conversations: [] });
  const me = await t.call('bob', '/rpc/me');
  assert.is((me.body as Json).user_id, 'bob');
});

test('result shapes: a set is an array, a row an object, void is 204', async () => {
  const group = await t.call('alice', '/rpc/create_group', { title: 'Trio', members: ['bob', 'carol'] });
  assert.is(group.status, 200);
  assert.equal((group.body as Json).members, ['alice', 'bob', 'carol']);
  const blocked = await t.call('carol', '/rpc/block_user', { user: 'bob' });
  assert.is(blocked.status, 204);
  assert.is(blocked.body, undefined);
  const list = await t.call('carol', '/rpc/list_blocked');
  assert.equal(list.body, [{ user_id: 'bob', display_name: null }]);
  assert.is((await t.call('carol', '/rpc/unblock_user', { user: 'bob' })).status, 204);
  const check = await t.call('admin', '/admin/rpc/check_password', { user_id: 'alice', password: 'x' });
  assert.is(check.body, false);
});

test('argument errors answer 400 naming the argument', async () => {
  const missing = await t.call('alice', '/rpc/list_messages', {});
  assert.is(missing.status, 400);
  assert.is((missing.body as { error: Json }).error.code, 'MCARG');
  assert.match(String((missing.body as { error: Json }).error.message), 'conversation_id');

  const unknown = await t.call('alice', '/rpc/send_message', { recipient: 'bob', body: 'x', colour: 'red' });
  assert.is(unknown.status, 400);
  assert.match(String((unknown.body as { error: Json }).error.message), 'colour');

  const wrongType = await t.call('alice', '/rpc/list_messages', { conversation_id: 'one' });
  assert.is(wrongType.status, 400);
  assert.match(String((wrongType.body as { error: Json }).error.message), 'conversation_id');

  for (const [name, value] of [
    ['limit', 1e300],
    ['limit', 2 ** 40],
    ['limit', 1.5],
    ['conversation_id', '99999999999999999999'],
    ['conversation_id', 2 ** 60],
    ['before_seq', true],
  ] as const) {
    const response = await t.call('alice', '/rpc/list_messages', { conversation_id: 1, [name]: value });
    assert.is(response.status, 400, `${name}=${value}`);
    assert.is((response.body as { error: Json }).error.code, 'MCARG');
  }
  const notArray = await t.call('alice', '/rpc/create_group', { title: 'x', members: 'bob' });
  assert.is(notArray.status, 400);
  const nul = await t.call('alice', '/rpc/send_message', { recipient: 'bob', body: 'a\u0000b' });
  assert.is(nul.status, 400);
});

test('the acting user comes from the credentials only: a body naming actor is refused', async () => {
  const forged = await t.call('alice', '/rpc/send_message', {
    actor: 'bob',
    recipient: 'carol',
    body: 'as bob',
  });
  assert.is(forged.status, 400);
  assert.is((forged.body as { error: Json }).error.code, 'MCARG');
  const viaQuery = await t.call('alice', '/rpc/list_conversations?actor=bob');
  assert.is(viaQuery.status, 400);
});

test('unknown functions are 404, changing functions refuse GET with 405, no credentials 401', async () => {
  assert.is((await t.call('alice', '/rpc/drop_everything', {})).status, 404);
  assert.is((await t.call('alice', '/rpc/send_message?recipient=bob&body=hi')).status, 405);
  assert.is((await t.call(null, '/rpc/me')).status, 401);
  assert.is((await t.call('alice', '/nowhere')).status, 404);
  // Admin functions are not user functions, and the other way round.
  assert.is((await t.call('alice', '/rpc/create_user', { user_id: 'x' })).status, 404);
  assert.is((await t.call('alice', '/admin/rpc/create_user', { user_id: 'x' })).status, 403);
  const adminAsUser = await t.call('admin', '/rpc/me', {});
  assert.is(adminAsUser.status, 403);
  assert.is((adminAsUser.body as { error: Json }).error.code, 'MCUSR');
  assert.is((await t.call('admin', '/admin/rpc/nothing', {})).status, 404);
});

test('malformed bodies are 4xx: bad JSON, wrong content type, arrays and scalars', async () => {
  const token = await t.tokenFor('alice');
  const post = (body: string, contentType = 'application/json') =>
    t.app.request('/rpc/send_message', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
      body,
    });
  const bad = await post('{"recipient": "bob", "body": ');
  assert.is(bad.status, 400);
  assert.is(((await bad.json()) as { error: Json }).error.code, 'MCJSN');
  assert.is((await post('recipient=bob&body=hi', 'application/x-www-form-urlencoded')).status, 415);
  assert.is((await post('[{"recipient": "bob"}]')).status, 400);
  assert.is((await post('"hello"')).status, 400);
  assert.is((await post('null')).status, 400);
});

test('oversized bodies are 413, also without Content-Length (chunked)', async () => {
  const token = await t.tokenFor('alice');
  const big = JSON.stringify({ recipient: 'bob', body: 'x'.repeat(70_000) });
  const sized = await t.app.request('/rpc/send_message', {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: big,
  });
  assert.is(sized.status, 413);
  assert.is(((await sized.json()) as { error: Json }).error.code, 'MCTOO');
  const stream = new ReadableStream({
    start(controller) {
      for (let i = 0; i < 10; i++)
        controller.enqueue(new TextEncoder().encode(big.slice(i * 7000, (i + 1) * 7000)));
      controller.close();
    },
  });
  const chunked = await t.app.request('/rpc/send_message', {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'transfer-encoding': 'chunked',
    },
    body: stream,
    duplex: 'half',
  } as RequestInit);
  assert.is(chunked.status, 413);
  // A body within the limit but over the message length is the SQL rule's 413.
  const long = await t.call('alice', '/rpc/send_message', { recipient: 'bob', body: 'x'.repeat(4001) });
  assert.is(long.status, 413);
  assert.is((long.body as { error: Json }).error.code, 'MCLNG');
});

test("another user's conversation: every endpoint refuses and nothing changes", async () => {
  const sent = await t.call('alice', '/rpc/send_message', { recipient: 'bob', body: 'private' });
  const id = (sent.body as Json).conversation_id;
  const snapshot = () =>
    t.db
      .sql`select (select json_agg(m order by conversation_id, user_id) from chat_private.memberships m) as m,
                    (select json_agg(c order by conversation_id) from chat_private.conversations c) as c,
                    (select count(*) from chat_private.messages) as n`;
  const before = await snapshot();
  const attempts: [string, Json][] = [
    ['send_message', { conversation_id: id, body: 'intruder' }],
    ['list_messages', { conversation_id: id }],
    ['get_conversation', { conversation_id: id }],
    ['mark_read', { conversation_id: id }],
    ['set_muted', { conversation_id: id }],
    ['delete_conversation', { conversation_id: id }],
    ['add_members', { conversation_id: id, members: ['carol'] }],
    ['remove_member', { conversation_id: id, user: 'bob' }],
    ['leave_conversation', { conversation_id: id }],
    ['rename_conversation', { conversation_id: id, title: 'mine' }],
    ['set_admin', { conversation_id: id, user: 'carol' }],
  ];
  for (const [name, args] of attempts) {
    const response = await t.call('carol', `/rpc/${name}`, args);
    assert.ok([403, 404].includes(response.status), `${name}: ${response.status}`);
  }
  assert.equal(await snapshot(), before);
});

test('no SQL text or internals reach the client', async () => {
  const response = await t.call('alice', '/rpc/list_conversations', { before: 'garbage' });
  assert.is(response.status, 400);
  const text = JSON.stringify(response.body);
  for (const leak of ['PL/pgSQL', 'CONTEXT', 'chat_private', 'line ']) assert.not.match(text, leak);
});

test('GET /openapi.json describes every function, and /docs renders it', async () => {
  const response = await t.app.request('/openapi.json');
  assert.is(response.status, 200);
  const doc = (await response.json()) as { openapi: string; paths: Record<string, Json>; components: Json };
  assert.is(doc.openapi, '3.1.0');
  const [{ count }] = await t.db.sql`
    select count(*)::int from pg_proc where pronamespace in ('chat'::regnamespace, 'chat_admin'::regnamespace)`;
  // One path per SQL function, plus /healthz, /auth/token, /admin/rpc/issue_token, /events,
  // /events/ticket, /attachments and /attachments/{attachment_id} (test/http/openapi.test.ts).
  assert.is(Object.keys(doc.paths).length, count + 7);
  assert.ok(doc.paths['/auth/token']?.post);
  const send = doc.paths['/rpc/send_message']?.post as Json;
  assert.match(String(send.description), 'client_id');
  const schema = ((send.requestBody as Json).content as Json)['application/json'] as { schema: Json };
  assert.equal(Object.keys(schema.schema.properties as Json), [
    'recipient',
    'conversation_id',
    'body',
    'client_id',
    'reply_to_seq',
    'attachments',
  ]);
  assert.ok(doc.paths['/rpc/list_messages']?.get, 'read-only functions are also GET');
  assert.not.ok(doc.paths['/rpc/send_message']?.get);
  assert.ok(doc.paths['/admin/rpc/import_users']?.post);
  const docs = await t.app.request('/docs');
  assert.is(docs.status, 200);
  const html = await docs.text();
  assert.match(html, '/rpc/list_conversations');
  assert.match(html, 'Your inbox');
});

test.run();
