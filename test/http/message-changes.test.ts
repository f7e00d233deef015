/**
 * Messages that change, over HTTP: the endpoints the catalog derives from the new SQL functions, their
 * statuses, and that a non-member gets nothing from any of them.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type TestApp, testApp } from '../helpers/http.ts';

const test = suite('http: messages that change');
let t: TestApp;
let id: number;

test.before(async () => {
  t = await testApp();
  await t.call('admin', '/admin/rpc/import_users', {
    users: [{ user_id: 'alice' }, { user_id: 'bob' }, { user_id: 'mallory' }],
  });
  const sent = await t.call('alice', '/rpc/send_message', { recipient: 'bob', body: 'Lunch at noon?' });
  id = (sent.body as { conversation_id: number }).conversation_id;
});
test.after(async () => t.close());

const errorCode = (body: unknown) => (body as { error: { code: string } }).error.code;

test('reply, edit, react, unreact, delete: each answers the message', async () => {
  const reply = await t.call('bob', '/rpc/send_message', {
    conversation_id: id,
    body: 'Noon works',
    reply_to_seq: 1,
  });
  assert.is(reply.status, 200);
  assert.is((reply.body as { reply_to_seq: number }).reply_to_seq, 1);
  const edited = await t.call('alice', '/rpc/edit_message', {
    conversation_id: id,
    seq: 1,
    body: 'Lunch at 12:30?',
  });
  assert.is(edited.status, 200);
  assert.type((edited.body as { edited_at: string }).edited_at, 'string');
  const reacted = await t.call('bob', '/rpc/react', { conversation_id: id, seq: 1, emoji: '👍' });
  assert.equal((reacted.body as { reactions: unknown }).reactions, [
    { emoji: '👍', count: 1, users: ['bob'] },
  ]);
  const unreacted = await t.call('bob', '/rpc/unreact', { conversation_id: id, seq: 1, emoji: '👍' });
  assert.equal((unreacted.body as { reactions: unknown }).reactions, []);
  const deleted = await t.call('bob', '/rpc/delete_message', { conversation_id: id, seq: 2 });
  assert.is(deleted.status, 200);
  assert.is((deleted.body as { body: string }).body, '');
});

test('search answers GET with snippets; a non-member finds nothing', async () => {
  const found = await t.call('bob', '/rpc/search_messages?query=lunch');
  assert.is(found.status, 200);
  assert.equal(
    (found.body as { seq: number; snippet: string }[]).map((r) => [r.seq, r.snippet]),
    [[1, '<mark>Lunch</mark> at 12:30?']],
  );
  const nothing = await t.call('mallory', '/rpc/search_messages?query=lunch');
  assert.equal(nothing.body, []);
  const named = await t.call('mallory', `/rpc/search_messages?query=lunch&conversation_id=${id}`);
  assert.is(named.status, 403);
});

test('refusals map to their statuses', async () => {
  const cases: [string, string, Record<string, unknown>, number, string][] = [
    ['bob', 'edit_message', { conversation_id: id, seq: 1, body: 'mine now' }, 403, 'MCOWN'],
    ['alice', 'edit_message', { conversation_id: id, seq: 99, body: 'nothing there' }, 404, 'MCNMS'],
    ['bob', 'edit_message', { conversation_id: id, seq: 2, body: 'a tombstone' }, 409, 'MCDEL'],
    ['bob', 'react', { conversation_id: id, seq: 1, emoji: 'two words' }, 400, 'MCEMO'],
    ['bob', 'react', { conversation_id: id, seq: 1, emoji: ' ' }, 400, 'MCEMO'],
    ['mallory', 'react', { conversation_id: id, seq: 1, emoji: '👀' }, 403, 'MCNMB'],
    ['mallory', 'delete_message', { conversation_id: id, seq: 1 }, 403, 'MCNMB'],
    ['alice', 'send_message', { conversation_id: id, body: 'x', reply_to_seq: 99 }, 404, 'MCNMS'],
    ['alice', 'send_message', { conversation_id: id, body: 'x', attachments: ['not-a-uuid'] }, 404, 'MCATT'],
    [
      'alice',
      'send_message',
      { conversation_id: id, body: 'x', attachments: Array(11).fill('x') },
      400,
      'MCLIM',
    ],
  ];
  for (const [user, name, args, status, code] of cases) {
    const answer = await t.call(user, `/rpc/${name}`, args);
    assert.equal([answer.status, errorCode(answer.body)], [status, code], `${name} ${JSON.stringify(args)}`);
  }
});

test('the edit history is for admin credentials', async () => {
  const history = await t.call('admin', '/admin/rpc/list_message_edits', { conversation_id: id, seq: 1 });
  assert.equal(
    (history.body as { body: string }[]).map((h) => h.body),
    ['Lunch at noon?'],
  );
  const asUser = await t.call('alice', '/admin/rpc/list_message_edits', { conversation_id: id, seq: 1 });
  assert.is(asUser.status, 403);
});

test.run();
