/**
 * client.events against a real server: both transports deliver events, resume after the server cuts
 * the stream (no duplicates, no gaps), recover from an expired token through the provider, hand a
 * reset to the app, and back off instead of looping when every ticket is refused.
 */
import { EventSource } from 'eventsource';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  type ChatEvent,
  type ClientOptions,
  createClient,
  type EventSourceConstructor,
  type EventsOptions,
  type StreamStatus,
  type Subscription,
} from '../../client/src/index.ts';
import { type RealtimeServer, realtimeServer, tokenExpiringIn, waitFor } from '../helpers/realtime.ts';

let t: RealtimeServer;
const subscriptions: Subscription[] = [];
test.before(async () => {
  t = await realtimeServer();
});
test.after(async () => {
  for (const s of subscriptions) s.close();
  await t.close();
});

/** Opens client.events for `user`, recording events and statuses. */
function listen(user: string, options: EventsOptions = {}, client: Partial<ClientOptions> = {}) {
  const events: ChatEvent[] = [];
  const statuses: StreamStatus[] = [];
  const resets: ChatEvent[] = [];
  const sdk = createClient({ baseUrl: t.url, token: () => t.tokenFor(user), ...client });
  const subscription = sdk.events(
    {
      onEvent: (e) => events.push(e),
      onReset: (e) => resets.push(e),
      onStatus: (s) => statuses.push(s),
    },
    { backoff: { initialMs: 100, maxMs: 1000 }, ...options },
  );
  subscriptions.push(subscription);
  const bodies = () => events.flatMap((e) => (e.type === 'message.created' ? [e.data.message.body] : []));
  const seqs = () => events.flatMap((e) => (e.type === 'message.created' ? [e.data.message.seq] : []));
  const readies = () => events.filter((e) => e.type === 'ready').length;
  return { sdk, events, statuses, resets, subscription, bodies, seqs, readies };
}

const transports: [string, EventsOptions][] = [
  ['bearer', { transport: 'bearer' }],
  ['ticket', { transport: 'ticket', EventSource: EventSource as unknown as EventSourceConstructor }],
];

for (const [name, options] of transports) {
  test(`${name}: message.created arrives, typed, and the stream resumes after a cut without duplicates or gaps`, async () => {
    const me = `ev-${name}-a`;
    const peer = `ev-${name}-b`;
    await t.rpc(peer, 'me');
    const a = listen(me, options);
    await waitFor(() => a.readies() === 1, 'ready');
    assert.equal(a.statuses.at(-1), { state: 'live' });

    const first = await t.rpc(peer, 'send_message', { recipient: me, body: 'one' });
    await waitFor(() => a.bodies().length === 1, 'the first message');
    const created = a.events.find((e) => e.type === 'message.created');
    assert.is(created?.type === 'message.created' && created.data.conversation_id, first.conversation_id);
    assert.ok(a.events.some((e) => e.type === 'conversation.created'));

    // The server cuts every stream; messages sent meanwhile must arrive once, in order, after the resume.
    t.realtime.hub.endAll();
    for (const body of ['two', 'three', 'four']) {
      await t.rpc(peer, 'send_message', { conversation_id: first.conversation_id, body });
    }
    await waitFor(() => a.readies() === 2 && a.bodies().length >= 4, 'the resumed stream');
    await t.rpc(peer, 'send_message', { conversation_id: first.conversation_id, body: 'five' });
    await waitFor(() => a.bodies().length >= 5, 'live after the resume');
    assert.equal(a.bodies(), ['one', 'two', 'three', 'four', 'five']);
    assert.equal(a.seqs(), [1, 2, 3, 4, 5]);
    const ids = a.events.filter((e) => e.type !== 'ready' && e.id).map((e) => Number(e.id));
    assert.equal(
      ids,
      [...ids].sort((x, y) => x - y),
      'event ids only go up',
    );
    assert.ok(
      a.statuses.some((s) => s.state === 'reconnecting'),
      'the app was told it was reconnecting',
    );
    assert.is(a.subscription.lastEventId, a.events.at(-1)?.id);
    a.subscription.close();
    await waitFor(() => a.statuses.at(-1)?.state === 'closed', 'closed');
  });

  test(`${name}: an expired token closes the stream, the provider is asked once, and it resumes`, async () => {
    const me = `ev-${name}-exp`;
    const peer = `ev-${name}-exp-peer`;
    await t.rpc(peer, 'me');
    await t.rpc(me, 'me');
    let asked = 0;
    const a = listen(me, options, {
      token: async () => (asked++ === 0 ? (await tokenExpiringIn(me, 2)).token : t.tokenFor(me)),
    });
    await waitFor(() => a.readies() === 1, 'ready');
    const sent = await t.rpc(peer, 'send_message', { recipient: me, body: 'before' });
    await waitFor(() => a.events.some((e) => e.type === 'expired'), 'expired', 6000);
    await t.rpc(peer, 'send_message', { conversation_id: sent.conversation_id, body: 'after' });
    await waitFor(() => a.readies() === 2 && a.bodies().length === 2, 'the stream with the new token');
    assert.equal(a.bodies(), ['before', 'after']);
    assert.is(asked, 2);
  });
}

test('a cursor the server does not know: reset goes to onReset, then the stream is live', async () => {
  const a = listen('ev-reset', { transport: 'bearer', lastEventId: '999999999999' });
  await waitFor(() => a.readies() === 1, 'ready');
  assert.is(a.resets.length, 1);
  assert.is(a.events[0]?.type, 'reset');
  const ready = a.events[1];
  assert.ok(ready?.type === 'ready' && Number(ready.id) < 999999999999, 'the cursor is the server’s now');
  await t.rpc('ev-reset-peer', 'send_message', { recipient: 'ev-reset', body: 'after reset' });
  await waitFor(() => a.bodies().length === 1, 'a live event after the reset');
});

for (const [name, options] of transports) {
  test(`${name}: a token that is always refused asks the provider, then backs off (no tight loop)`, async () => {
    const user = `ev-${name}-refused`;
    await t.rpc(user, 'me');
    const expired = await tokenExpiringIn(user, -120);
    let requests = 0;
    let asked = 0;
    const a = listen(
      user,
      { ...options, backoff: undefined }, // the defaults: 1 s doubling to 30 s
      {
        token: () => {
          asked++;
          return expired.token;
        },
        fetch: (input, init) => {
          requests++;
          return fetch(input, init);
        },
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 3500));
    a.subscription.close();
    // Attempt 1, the provider's new token at once (2), then about 0.5-1 s, 1-2 s: at most 4 in 3.5 s.
    assert.ok(requests >= 2 && requests <= 4, `${requests} requests in 3.5 s`);
    assert.ok(
      asked >= 2 && asked === requests,
      `provider asked ${asked} times for ${requests} requests: once per attempt`,
    );
    const waits = a.statuses.flatMap((s) => (s.state === 'reconnecting' ? [s.delayMs] : []));
    assert.ok(waits.length >= 1 && waits.every((ms) => ms >= 500), `waits ${waits}`);
    const refusal = a.statuses.find((s) => s.state === 'reconnecting');
    assert.is(refusal?.state === 'reconnecting' && (refusal.error as { code?: string }).code, 'MCAUT');
  });
}

test.run();
