/** Typing, presence, read receipts and the privacy settings, through the SQL API as a DBA calls it. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createUsers, expectCode, sendTo } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('sql: live signals');
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase({ max: 4 });
  await createUsers(db.sql, 'ann', 'ben', 'cat', 'dan', 'eve');
});
test.after(async () => db.drop());

const typing = async (actor: string, conversation: number | string, on = true) => {
  const [row] = await db.sql`select chat.set_typing(${actor}, ${conversation}, ${on}) as forwarded`;
  return row?.forwarded as boolean;
};
const latest = async () => {
  const [{ position }] = await db.sql`select chat_server.latest_event_position() as position`;
  return position as number;
};
const eventsAfter = async (position: number) => [
  ...(await db.sql<{ type: string; recipients: string[]; payload: Record<string, unknown> }[]>`
    select type, recipients, payload from chat_server.read_events(${position})`),
];

test('set_typing: one forwarded call per 2 s, none in the log, a NOTIFY with the audience', async () => {
  const chat = await sendTo(db.sql, 'ann', 'ben', 'hi');
  const heard: string[] = [];
  const listener = await db.sql.listen('microchatter_typing', (payload) => heard.push(payload));
  const before = await latest();
  assert.is(await typing('ben', chat.conversation_id), true);
  assert.is(await typing('ben', chat.conversation_id), false, 'dropped by the throttle');
  assert.is(await typing('ben', chat.conversation_id, false), false);
  for (let i = 0; i < 50 && heard.length < 1; i++) await new Promise((r) => setTimeout(r, 20));
  await listener.unlisten();
  assert.is(heard.length, 1);
  const notice = JSON.parse(heard[0] ?? '{}');
  assert.equal(
    [notice.conversation_id, notice.user, notice.typing, notice.recipients],
    [Number(chat.conversation_id), 'ben', true, ['ann']],
  );
  assert.ok(Date.parse(notice.expires_at) - Date.now() > 4000);
  assert.equal(await eventsAfter(before), [], 'typing never reaches the event log');
  // Sending restarts the window: the next message's typing shows at once.
  await sendTo(db.sql, 'ben', 'ann', 'reply');
  assert.is(await typing('ben', chat.conversation_id), true);
});

test('set_typing refuses non-members, former members and blocked direct chats', async () => {
  const chat = await sendTo(db.sql, 'ann', 'cat', 'hi');
  await expectCode(db.sql`select chat.set_typing('dan', ${chat.conversation_id})`, 'MCNMB');
  await expectCode(db.sql`select chat.set_typing('dan', 999999)`, 'MCNCV');
  const [group] = await db.sql`select * from chat.create_group('ann', 'G', array['cat', 'dan'])`;
  await db.sql`select chat.leave_conversation('dan', ${group?.conversation_id})`;
  await expectCode(db.sql`select chat.set_typing('dan', ${group?.conversation_id})`, 'MCNMB');
  await db.sql`select chat.block_user('cat', 'ann')`;
  await expectCode(db.sql`select chat.set_typing('ann', ${chat.conversation_id})`, 'MCBLK');
  await expectCode(db.sql`select chat.set_typing('cat', ${chat.conversation_id})`, 'MCBLK');
  // In a group, those blocked either way are left out of the audience.
  const [audience] = await db.sql`
    select chat_server.typing_audience(${group?.conversation_id}, 'ann') as recipients`;
  assert.equal(audience?.recipients, []);
  await db.sql`select chat.unblock_user('cat', 'ann')`;
});

test('read positions: read_at, conversation.read carries it, mutual privacy, blocking', async () => {
  const [group] = await db.sql`select * from chat.create_group('dan', 'Read', array['eve', 'ben'])`;
  const id = group?.conversation_id;
  await db.sql`select chat.send_message('dan', conversation_id => ${id}, body => 'one')`;
  const before = await latest();
  await db.sql`select chat.mark_read('eve', ${id})`;
  const [read] = await eventsAfter(before);
  assert.is(read?.type, 'conversation.read');
  assert.equal(read?.recipients, ['ben', 'dan', 'eve']);
  assert.ok(read?.payload.read_at);
  const positions = await db.sql`select * from chat.list_read_positions('dan', ${id})`;
  assert.equal(
    positions.map((p) => [p.user, Number(p.read_seq), p.read_at !== null]),
    [
      ['ben', 0, false],
      ['dan', 1, true],
      ['eve', 1, true],
    ],
  );
  await expectCode(db.sql`select * from chat.list_read_positions('ann', ${id})`, 'MCNMB');

  // Eve stops sharing: her reads reach only her, she is in no one's list, and she sees only herself.
  const [settings] = await db.sql`select * from chat.update_settings('eve', share_read_receipts => false)`;
  assert.equal([settings?.share_read_receipts, settings?.share_presence], [false, true]);
  const [me] = await db.sql`select * from chat.me('eve')`;
  assert.is(me?.share_read_receipts, false);
  await db.sql`select chat.send_message('dan', conversation_id => ${id}, body => 'two')`;
  const mark = await latest();
  await db.sql`select chat.mark_read('eve', ${id})`;
  assert.equal(
    (await eventsAfter(mark)).map((e) => e.recipients),
    [['eve']],
  );
  const users = async (actor: string) =>
    (await db.sql`select * from chat.list_read_positions(${actor}, ${id})`).map((p) => p.user);
  assert.equal(await users('dan'), ['ben', 'dan']);
  assert.equal(await users('eve'), ['eve']);
  await db.sql`select chat.update_settings('eve', share_read_receipts => true)`;

  // Blocking hides receipts both ways, in groups too.
  await db.sql`select chat.block_user('ben', 'dan')`;
  assert.equal(await users('dan'), ['dan', 'eve']);
  assert.equal(await users('ben'), ['ben', 'eve']);
  const blocked = await latest();
  await db.sql`select chat.mark_read('ben', ${id})`;
  assert.equal(
    (await eventsAfter(blocked)).map((e) => e.recipients),
    [['ben', 'eve']],
  );
  await db.sql`select chat.unblock_user('ben', 'dan')`;
});

test('presence: leases, transitions once, peers of direct chats, privacy, a process that stopped', async () => {
  await createUsers(db.sql, 'pia', 'quin', 'rae');
  await sendTo(db.sql, 'pia', 'quin', 'hi');
  const [group] = await db.sql`select * from chat.create_group('pia', 'P', array['rae'])`;
  assert.ok(group);
  await db.sql`select chat_server.presence_heartbeat('p1', 30000), chat_server.presence_heartbeat('p2', 30000)`;
  const before = await latest();
  await db.sql`select chat_server.presence_sync('p1', array['pia'])`;
  await db.sql`select chat_server.presence_sync('p2', array['pia'])`;
  const online = await eventsAfter(before);
  assert.equal(
    online.map((e) => [e.type, e.recipients, e.payload.online]),
    [['presence.changed', ['quin'], true]],
    'once, to the direct-chat peer only (not the group)',
  );
  const presence = async (actor: string, ...users: string[]) =>
    (await db.sql`select * from chat.get_presence(${actor}, ${users})`).map((p) => [
      p.user,
      p.online,
      p.last_seen_at !== null,
    ]);
  assert.equal(await presence('rae', 'pia', 'quin'), [['pia', true, false]], 'quin shares no chat with rae');

  // Leaving p1 changes nothing while p2 holds a lease; leaving p2 too announces offline.
  const left = await latest();
  await db.sql`select chat_server.presence_sync('p1', '{}', array['pia'], array[now()])`;
  assert.equal(await eventsAfter(left), []);
  await db.sql`select chat_server.presence_sync('p2', '{}', array['pia'], array[now()])`;
  assert.equal(
    (await eventsAfter(left)).map((e) => e.payload.online),
    [false],
  );
  assert.equal(await presence('quin', 'pia'), [['pia', false, true]]);

  // A process that stops renewing: any other process expires it.
  await db.sql`select chat_server.presence_sync('p2', array['quin'])`;
  await db.sql`update chat_private.presence_processes set expires_at = now() - interval '1 s' where process_id = 'p2'`;
  const expired = await latest();
  await db.sql`select chat_server.presence_heartbeat('p1', 30000)`;
  assert.equal(
    (await eventsAfter(expired)).map((e) => [e.recipients, e.payload.user, e.payload.online]),
    [[['pia'], 'quin', false]],
  );

  // Not sharing: always offline to others, no last_seen_at; and mutual.
  await db.sql`select chat_server.presence_sync('p1', array['pia'])`;
  await db.sql`select chat.update_settings('pia', share_presence => false)`;
  assert.equal(await presence('quin', 'pia'), [['pia', false, false]]);
  assert.equal(await presence('pia', 'quin', 'pia'), [
    ['pia', true, false],
    ['quin', false, false],
  ]);
  await db.sql`select chat.update_settings('pia', share_presence => true)`;
  await db.sql`select chat.block_user('quin', 'pia')`;
  assert.equal(await presence('quin', 'pia'), [['pia', false, false]], 'blocking hides it both ways');
  assert.equal(await presence('pia', 'quin'), [['quin', false, false]]);

  await expectCode(
    db.sql`select * from chat.get_presence('pia', ${Array.from({ length: 101 }, (_, i) => `u${i}`)})`,
    'MCLIM',
  );
});

test.run();
