/** The SDK's typed calls against a real server: round trips, refusals, and the token provider. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createClient, MicrochatterError } from '../../client/src/index.ts';
import { type RealtimeServer, realtimeServer, tokenExpiringIn } from '../helpers/realtime.ts';

let t: RealtimeServer;
test.before(async () => {
  t = await realtimeServer();
});
test.after(async () => {
  await t.close();
});

const clientFor = (user: string) => createClient({ baseUrl: t.url, token: () => t.tokenFor(user) });

test('typed calls round-trip: send, list, get, mark_read, unread_count, me', async () => {
  const alice = clientFor('c-alice');
  const bob = clientFor('c-bob');
  const carol = clientFor('c-carol');
  await Promise.all([bob.me(), carol.me()]); // a site token creates its user on first sight
  assert.is((await alice.me())?.user_id, 'c-alice');
  const sent = await alice.send_message({ recipient: 'c-bob', body: 'Hi Bob', client_id: 'k1' });
  assert.is(sent.body, 'Hi Bob');
  assert.is(sent.seq, 1);
  assert.is(sent.sender, 'c-alice');
  const again = await alice.send_message({ recipient: 'c-bob', body: 'Hi Bob', client_id: 'k1' });
  assert.is(again.id, sent.id, 'client_id makes a retry safe');

  const conversationId = sent.conversation_id as number;
  const messages = await bob.list_messages({ conversation_id: conversationId });
  assert.equal(
    messages.map((m) => m.body),
    ['Hi Bob'],
  );
  const unread = await bob.unread_count();
  assert.is(unread.total, 1);
  assert.equal(unread.conversations, [{ conversation_id: conversationId, unread: 1, muted: false }]);
  const read = await bob.mark_read({ conversation_id: conversationId });
  assert.is(read.unread, 0);
  const conversation = await bob.get_conversation({ conversation_id: conversationId });
  assert.is(conversation.kind, 'direct');
  assert.is(conversation.peer, 'c-alice');
  assert.is(conversation.last_message?.body, 'Hi Bob');
  // 204 answers resolve to undefined; the generic call is the same as the method.
  assert.is(await bob.block_user({ user: 'c-carol' }), undefined);
  assert.equal(await bob.call('list_blocked'), [{ user_id: 'c-carol', display_name: null }]);
});

test('refusals are MicrochatterError with the code and status', async () => {
  const alice = clientFor('c-alice');
  const refusal = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      assert.instance(error, MicrochatterError);
      return error as MicrochatterError;
    }
    throw new Error('expected a refusal');
  };
  const empty = await refusal(alice.send_message({ recipient: 'c-bob', body: '  ' }));
  assert.is(empty.code, 'MCEMB');
  assert.is(empty.status, 400);
  const missing = await refusal(alice.get_conversation({ conversation_id: 987654 }));
  assert.is(missing.code, 'MCNCV');
  assert.is(missing.status, 404);
  const limit = await refusal(alice.list_conversations({ limit: 0 }));
  assert.is(limit.code, 'MCLIM');
  const unknownArgument = await refusal(alice.call('me', { actor: 'c-bob' } as never));
  assert.is(unknownArgument.code, 'MCARG');
  const badToken = await refusal(createClient({ baseUrl: t.url, token: 'not-a-token' }).me());
  assert.is(badToken.code, 'MCAUT');
  assert.is(badToken.status, 401);
});

test('a token provider is asked again after a 401, and the call succeeds with the new token', async () => {
  const expired = await tokenExpiringIn('c-dave', -120); // beyond the 30 s clock tolerance
  const handed: string[] = [];
  const dave = createClient({
    baseUrl: t.url,
    token: async () => {
      const token = handed.length === 0 ? expired.token : await t.tokenFor('c-dave');
      handed.push(token);
      return token;
    },
  });
  assert.is((await dave.me())?.user_id, 'c-dave');
  assert.is(handed.length, 2, 'asked once at first use, once after the 401');
  assert.is((await dave.me())?.user_id, 'c-dave');
  assert.is(handed.length, 2, 'a good token is kept');
});

test('concurrent calls refused together share one provider call', async () => {
  const expired = await tokenExpiringIn('c-erin', -120);
  let asked = 0;
  const erin = createClient({
    baseUrl: t.url,
    token: async () => (asked++ === 0 ? expired.token : t.tokenFor('c-erin')),
  });
  const answers = await Promise.all([erin.me(), erin.unread_count(), erin.list_conversations()]);
  assert.is(answers[0]?.user_id, 'c-erin');
  assert.is(asked, 2);
});

test('a provider that keeps giving a refused token: one retry, then the 401 surfaces', async () => {
  const expired = await tokenExpiringIn('c-fay', -120);
  let asked = 0;
  const fay = createClient({
    baseUrl: t.url,
    token: () => {
      asked++;
      return expired.token;
    },
  });
  try {
    await fay.me();
    assert.unreachable('should have been refused');
  } catch (error) {
    assert.instance(error, MicrochatterError);
    assert.is((error as MicrochatterError).code, 'MCAUT');
  }
  assert.is(asked, 2);
});

test('an answer that is not a Microchatter error body has code null', async () => {
  const odd = createClient({
    baseUrl: t.url,
    token: 'x',
    fetch: async () => new Response('<html>Bad gateway</html>', { status: 502 }),
  });
  try {
    await odd.me();
    assert.unreachable();
  } catch (error) {
    assert.instance(error, MicrochatterError);
    assert.is((error as MicrochatterError).code, null);
    assert.is((error as MicrochatterError).status, 502);
  }
});

test.run();
