/** A token whose `sub` names a user in NFD reaches the user stored in NFC (docs/auth.md). */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type TestApp, testApp } from '../helpers/http.ts';

const test = suite('http: user ids in Unicode normal form C');
let t: TestApp;

const NFC = 'Jos\u00e9';
const NFD = 'Jose\u0301';

test.before(async () => {
  t = await testApp();
  const created = await t.call('admin', '/admin/rpc/import_users', {
    users: [{ user_id: NFC }, { user_id: 'ann' }],
  });
  assert.is(created.status, 200);
});
test.after(async () => t.close());

test('a JWT with the NFD sub acts as the NFC user, and creates no second user', async () => {
  const me = await t.call(NFD, '/rpc/me');
  assert.is(me.status, 200);
  assert.is((me.body as { user_id: string }).user_id, NFC);

  const sent = await t.call(NFD, '/rpc/send_message', { recipient: 'ann', body: 'hé' });
  assert.is(sent.status, 200);
  assert.is((sent.body as { sender: string }).sender, NFC);
  const reply = await t.call('ann', '/rpc/send_message', { recipient: NFD, body: 'hi' });
  assert.is(reply.status, 200);
  assert.is(
    (reply.body as { conversation_id: number }).conversation_id,
    (sent.body as { conversation_id: number }).conversation_id,
  );
  const inbox = await t.call(NFC, '/rpc/list_conversations');
  assert.is((inbox.body as unknown[]).length, 1);

  const [{ count }] = await t.db.sql`select count(*)::int from chat_private.users where user_id like 'Jos%'`;
  assert.is(count, 1);
});

test("the verified principal is the NFC id, so event streams opened with an NFD token are the NFC user's", async () => {
  const token = await t.tokenFor(NFD);
  const request = new Request('http://x/events', { headers: { authorization: `Bearer ${token}` } });
  assert.is(((await t.auth.authenticate(request, '127.0.0.1')) as { userId: string }).userId, NFC);
  const issued = await t.auth.issueToken(NFD, 60);
  const own = new Request('http://x/events', { headers: { authorization: `Bearer ${issued.token}` } });
  assert.is(((await t.auth.authenticate(own, '127.0.0.1')) as { userId: string }).userId, NFC);
});

test.run();
