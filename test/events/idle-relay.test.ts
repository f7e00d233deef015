import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type RealtimeServer, realtimeServer } from '../helpers/realtime.ts';

// A process with no open stream reads no events (server/events/relay.ts); the first stream to open
// after such a quiet spell must still start at the log's end and miss nothing from then on, and a
// stream that resumes must still get its whole gap.
const test = suite('events: a relay without streams');
let s: RealtimeServer;
let relayed = 0;

test.before(async () => {
  s = await realtimeServer({ MICROCHATTER_EVENT_POLL_MS: '50' }, (events) => {
    relayed += events;
  });
  await s.call('admin', '/admin/rpc/import_users', { users: [{ user_id: 'ann' }, { user_id: 'ben' }] });
});
test.after(async () => s.close());

const sendAsAnn = (body: string) =>
  s.db.sql`select seq from chat.send_message('ann', recipient => 'ben', body => ${body})`;
const latestPosition = async () =>
  Number((await s.db.sql`select chat_server.latest_event_position() as p`)[0]?.p);
const quiet = () => new Promise((resolve) => setTimeout(resolve, 200));

test('no stream: sends and polls read nothing; the next stream goes live at the log’s end', async () => {
  for (const body of ['one', 'two', 'three']) await sendAsAnn(body);
  await quiet(); // four polls and three notifications
  assert.is(relayed, 0, 'no event was read for a process without streams');

  const ben = await s.stream('ben');
  const ready = ben.events.find((e) => e.type === 'ready');
  assert.is(
    Number(ready?.id),
    await latestPosition(),
    'live from the newest event, not from before the quiet spell',
  );
  await sendAsAnn('four');
  await ben.until((events) => events.some((e) => e.type === 'message.created'));
  await quiet();
  assert.equal(ben.bodies(), ['four'], 'only what came after it opened, once');
  assert.ok(relayed >= 1);
  ben.close();
});

test('a stream resuming after a quiet spell gets its whole gap, once, in order', async () => {
  const first = await s.stream('ben');
  await sendAsAnn('before');
  await first.until((events) => events.some((e) => e.type === 'message.created'));
  const cursor = first.lastEventId();
  first.close();
  await quiet(); // the hub is empty again
  const before = relayed;
  const missed = ['m1', 'm2', 'm3', 'm4'];
  for (const body of missed) await sendAsAnn(body);
  await quiet();
  assert.is(relayed, before, 'nothing read while no stream was open');

  const resumed = await s.stream('ben', { after: cursor });
  await sendAsAnn('live');
  await resumed.until((events) => events.filter((e) => e.type === 'message.created').length >= 5);
  await quiet();
  assert.equal(resumed.bodies(), [...missed, 'live']);
  const ids = resumed.events.filter((e) => e.type !== 'ready').map((e) => e.id);
  assert.is(new Set(ids).size, ids.length, 'no event twice');
  resumed.close();
});

test.run();
