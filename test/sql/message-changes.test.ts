/**
 * Messages that change after sending: edit (with history), delete for everyone, reactions, quote
 * replies, attachments on messages, and how the inbox follows.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectDatabase } from '../../server/db.ts';
import { createUsers, expectCode, sendIn, sendTo } from '../helpers/chat.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('sql: messages that change');
let db: TestDatabase;
let direct: string; // ann ↔ ben
let group: string; // owner ann, admin ben, members cat, dan

test.before(async () => {
  db = await freshDatabase({ max: 6 });
  await createUsers(db.sql, 'ann', 'ben', 'cat', 'dan', 'eve');
  direct = (await sendTo(db.sql, 'ann', 'ben', 'first')).conversation_id;
  const [g] = await db.sql`select * from chat.create_group('ann', 'Club', array['ben', 'cat', 'dan'])`;
  group = g?.conversation_id;
  await db.sql`select chat.set_admin('ann', ${group}, 'ben')`;
});
test.after(async () => db.drop());

/** Work with session settings on a connection of its own, closed after. */
async function onOwnConnection(work: (sql: ReturnType<typeof connectDatabase>) => Promise<void>) {
  const sql = connectDatabase(db.url, { max: 1 });
  try {
    await work(sql);
  } finally {
    await sql.end();
  }
}

type Message = Record<string, unknown> & { seq: number; body: string };

const edit = (actor: string, id: string, seq: number, body: string | null) =>
  db.sql<Message[]>`select * from chat.edit_message(${actor}, ${id}, ${seq}, ${body})`;
const remove = (actor: string, id: string, seq: number) =>
  db.sql<Message[]>`select * from chat.delete_message(${actor}, ${id}, ${seq})`;
const react = (actor: string, id: string, seq: number, emoji: string) =>
  db.sql<Message[]>`select * from chat.react(${actor}, ${id}, ${seq}, ${emoji})`;
const unreact = (actor: string, id: string, seq: number, emoji: string) =>
  db.sql<Message[]>`select * from chat.unreact(${actor}, ${id}, ${seq}, ${emoji})`;
const page = (actor: string, id: string) =>
  db.sql<Message[]>`select * from chat.list_messages(${actor}, ${id})`;

test('a new message has the new fields, empty', async () => {
  const message = await sendIn(db.sql, 'ann', direct, 'plain');
  const [row] = await page('ben', direct);
  assert.is(row?.seq, Number(message.seq));
  assert.equal(
    [row?.edited_at, row?.deleted_at, row?.reply_to_seq, row?.reactions, row?.attachments],
    [null, null, null, [], []],
  );
});

test('edit: the sender changes the body for everyone; the history keeps what it said', async () => {
  const { seq } = await sendIn(db.sql, 'ann', direct, 'teh typo');
  const [edited] = await edit('ann', direct, Number(seq), 'the typo');
  assert.is(edited?.body, 'the typo');
  assert.type(edited?.edited_at, 'string');
  await edit('ann', direct, Number(seq), 'the typo, fixed');
  const [seen] = (await page('ben', direct)).filter((m) => m.seq === Number(seq));
  assert.is(seen?.body, 'the typo, fixed');
  const history = await db.sql`select * from chat_admin.list_message_edits(${direct}, ${seq})`;
  assert.equal(
    history.map((h) => h.body),
    ['teh typo', 'the typo'],
  );
  // The same body again is no edit.
  await edit('ann', direct, Number(seq), 'the typo, fixed');
  assert.is((await db.sql`select * from chat_admin.list_message_edits(${direct}, ${seq})`).length, 2);
});

test('edit: refusals', async () => {
  const { seq } = await sendIn(db.sql, 'ann', group, 'mine');
  const s = Number(seq);
  await expectCode(edit('ben', group, s, 'not yours'), 'MCOWN');
  await expectCode(edit('ann', group, s + 100, 'no such seq'), 'MCNMS');
  await expectCode(edit('ann', group, s, '   '), 'MCEMB');
  await expectCode(edit('ann', group, s, 'x'.repeat(4001)), 'MCLNG');
  await expectCode(edit('eve', group, s, 'not a member'), 'MCNMB');
  await expectCode(edit('ann', '999999', s, 'no conversation'), 'MCNCV');
  await remove('ann', group, s);
  await expectCode(edit('ann', group, s, 'a tombstone'), 'MCDEL');
});

test('edit: microchatter.edit_window_seconds bounds how long after sending', async () => {
  const { seq } = await sendIn(db.sql, 'ann', direct, 'old news');
  await db.sql`update chat_private.messages set sent_at = now() - interval '2 minutes' where conversation_id = ${direct} and seq = ${seq}`;
  await onOwnConnection(async (sql) => {
    await sql`set microchatter.edit_window_seconds = 60`;
    await expectCode(sql`select chat.edit_message('ann', ${direct}, ${seq}, 'too late')`, 'MCLAT');
    await sql`set microchatter.edit_window_seconds = 600`;
    await sql`select chat.edit_message('ann', ${direct}, ${seq}, 'in time')`;
  });
});

test('delete: a tombstone keeps its seq; twice is a no-op; the history goes', async () => {
  const { seq } = await sendIn(db.sql, 'ben', direct, 'regrettable');
  await edit('ben', direct, Number(seq), 'more regrettable');
  await react('ann', direct, Number(seq), '😬');
  const [tombstone] = await remove('ben', direct, Number(seq));
  assert.equal(
    [tombstone?.seq, tombstone?.body, tombstone?.reactions, tombstone?.attachments],
    [Number(seq), '', [], []],
  );
  assert.type(tombstone?.deleted_at, 'string');
  const [again] = await remove('ben', direct, Number(seq));
  assert.equal(again?.deleted_at, tombstone?.deleted_at);
  assert.is((await db.sql`select * from chat_admin.list_message_edits(${direct}, ${seq})`).length, 0);
  const seen = (await page('ann', direct)).find((m) => m.seq === Number(seq));
  assert.is(seen?.body, '');
  assert.ok(seen?.deleted_at);
  // Others cannot delete in a direct chat.
  const other = await sendIn(db.sql, 'ben', direct, 'stays');
  await expectCode(remove('ann', direct, Number(other.seq)), 'MCOWN');
});

test("delete: a group's owner and admins may delete anyone's message, members only their own", async () => {
  const byCat = await sendIn(db.sql, 'cat', group, 'spam');
  const byDan = await sendIn(db.sql, 'dan', group, 'more spam');
  const byAnn = await sendIn(db.sql, 'ann', group, 'the owner speaks');
  await expectCode(remove('cat', group, Number(byDan.seq)), 'MCOWN');
  await expectCode(remove('cat', group, Number(byAnn.seq)), 'MCOWN');
  assert.ok((await remove('ann', group, Number(byCat.seq)))[0]?.deleted_at);
  assert.ok((await remove('ben', group, Number(byDan.seq)))[0]?.deleted_at);
});

test('delete: a tombstone still counts as unread until read, and is the inbox last_message', async () => {
  const [{ unread: before }] = await db.sql`select unread from chat.get_conversation('ben', ${direct})`;
  const { seq } = await sendIn(db.sql, 'ann', direct, 'oops');
  await remove('ann', direct, Number(seq));
  const [conversation] = await db.sql`select * from chat.get_conversation('ben', ${direct})`;
  assert.is(conversation?.unread, Number(before) + 1);
  assert.is(conversation?.last_message.seq, Number(seq));
  assert.is(conversation?.last_message.body, '');
  assert.ok(conversation?.last_message.deleted_at);
});

test('the inbox last_message follows edits and reactions', async () => {
  const { seq } = await sendIn(db.sql, 'ann', direct, 'draft');
  await edit('ann', direct, Number(seq), 'final');
  await react('ben', direct, Number(seq), '👍');
  const [inbox] =
    await db.sql`select * from chat.list_conversations('ben') where conversation_id = ${direct}`;
  assert.is(inbox?.last_message.body, 'final');
  assert.ok(inbox?.last_message.edited_at);
  assert.equal(inbox?.last_message.reactions, [{ emoji: '👍', count: 1, users: ['ben'] }]);
});

test('reactions: one per user and emoji, in first-reaction order; unreact takes it back', async () => {
  const { seq } = await sendIn(db.sql, 'ann', group, 'react to me');
  const s = Number(seq);
  await react('ben', group, s, '🎉');
  await react('cat', group, s, '👍');
  await react('ann', group, s, '🎉');
  const [again] = await react('ben', group, s, '🎉');
  assert.equal(again?.reactions, [
    { emoji: '🎉', count: 2, users: ['ben', 'ann'] },
    { emoji: '👍', count: 1, users: ['cat'] },
  ]);
  await unreact('ben', group, s, '🎉');
  await unreact('ben', group, s, '🎉'); // not there any more: nothing to do
  const [after] = await unreact('cat', group, s, '👍');
  assert.equal(after?.reactions, [{ emoji: '🎉', count: 1, users: ['ann'] }]);
});

test('reactions: emoji rules, the distinct-emoji limit, tombstones, members only, blocks', async () => {
  const { seq } = await sendIn(db.sql, 'ann', group, 'limits');
  const s = Number(seq);
  for (const emoji of ['', ' ', 'a b', 'x'.repeat(33), '\t👍']) {
    await expectCode(react('ben', group, s, emoji), 'MCEMO');
  }
  assert.ok((await react('ben', group, s, 'x'.repeat(32)))[0]);
  await onOwnConnection(async (sql) => {
    await sql`set microchatter.max_reactions_per_message = 3`;
    await sql`select chat.react('ben', ${group}, ${s}, 'a')`;
    await sql`select chat.react('ben', ${group}, ${s}, 'b')`;
    await expectCode(sql`select chat.react('ben', ${group}, ${s}, 'c')`, 'MCRXN');
    await sql`select chat.react('cat', ${group}, ${s}, 'a')`; // an emoji already there is fine
  });
  await expectCode(react('eve', group, s, '👀'), 'MCNMB');
  await expectCode(react('ben', group, s + 100, '👀'), 'MCNMS');
  await remove('ann', group, s);
  await expectCode(react('ben', group, s, '👀'), 'MCDEL');

  const { seq: d } = await sendIn(db.sql, 'ann', direct, 'blocked soon');
  await db.sql`select chat.block_user('ben', 'ann')`;
  await expectCode(react('ann', direct, Number(d), '👍'), 'MCBLK');
  await expectCode(react('ben', direct, Number(d), '👍'), 'MCBLK');
  await db.sql`select chat.unblock_user('ben', 'ann')`;
});

test('replies: to a message the sender can see in the same conversation, not a tombstone', async () => {
  const asked = await sendIn(db.sql, 'ann', group, 'question?');
  const [answer] = await db.sql<Message[]>`
    select * from chat.send_message('cat', conversation_id => ${group}, body => 'answer', reply_to_seq => ${asked.seq})`;
  assert.is(answer?.reply_to_seq, Number(asked.seq));
  await expectCode(
    db.sql`select chat.send_message('cat', conversation_id => ${group}, body => 'x', reply_to_seq => 100000)`,
    'MCNMS',
  );
  // Before eve joined: not hers to answer.
  await db.sql`select chat.add_members('ann', ${group}, array['eve'])`;
  await expectCode(
    db.sql`select chat.send_message('eve', conversation_id => ${group}, body => 'x', reply_to_seq => ${asked.seq})`,
    'MCNMS',
  );
  await db.sql`select chat.remove_member('ann', ${group}, 'eve')`;
  await remove('ann', group, Number(asked.seq));
  await expectCode(
    db.sql`select chat.send_message('cat', conversation_id => ${group}, body => 'x', reply_to_seq => ${asked.seq})`,
    'MCDEL',
  );
});

test('a member who left cannot edit, delete or react any more', async () => {
  const [g] = await db.sql`select * from chat.create_group('ann', 'Brief', array['dan'])`;
  const id = g?.conversation_id;
  const { seq } = await sendIn(db.sql, 'dan', id, 'bye soon');
  await db.sql`select chat.leave_conversation('dan', ${id})`;
  await expectCode(edit('dan', id, Number(seq), 'changed my mind'), 'MCNMB');
  await expectCode(remove('dan', id, Number(seq)), 'MCNMB');
  await expectCode(react('dan', id, Number(seq), '👋'), 'MCNMB');
});

async function upload(uploader: string, name: string, bytes = 'data'): Promise<string> {
  const [row] = await db.sql`select chat_server.begin_attachment(${uploader}, ${name}, 'text/plain') as id`;
  await db.sql`select chat_server.append_attachment_chunk(${row?.id}, 0, ${Buffer.from(bytes)})`;
  await db.sql`select chat_server.finish_attachment(${row?.id})`;
  return row?.id;
}

const sendWith = (actor: string, id: string, body: string | null, attachments: string[]) =>
  db.sql<Message[]>`
    select * from chat.send_message(${actor}, conversation_id => ${id}, body => ${body}, attachments => ${attachments})`;

test('attachments: the sender attaches their own uploads; members may read them', async () => {
  const a = await upload('ann', 'a.txt', 'aaa');
  const b = await upload('ann', 'b.txt', 'bb');
  const [message] = await sendWith('ann', group, null, [b, a, b]);
  assert.is(message?.body, '');
  assert.equal(message?.attachments, [
    { attachment_id: b, name: 'b.txt', content_type: 'text/plain', size: 2 },
    { attachment_id: a, name: 'a.txt', content_type: 'text/plain', size: 3 },
  ]);
  const readable = async (reader: string, id: string) =>
    (await db.sql`select * from chat_server.attachment_for_reader(${reader}, ${id})`).length === 1;
  assert.ok(await readable('cat', a));
  assert.not.ok(await readable('eve', a), 'not a member');
  // Already attached: not again.
  await expectCode(sendWith('ann', group, 'again', [a]), 'MCATT');
  // Deleting the message deletes the attachments, bytes and all.
  await remove('ann', group, Number(message?.seq));
  assert.not.ok(await readable('ann', a));
  const [{ rows }] = await db.sql`
    select (select count(*) from chat_private.attachment_chunks where attachment_id in (${a}, ${b}))::int as rows`;
  assert.is(rows, 0);
});

test("attachments: someone else's, unfinished, unknown or malformed ids store nothing", async () => {
  const bens = await upload('ben', 'ben.txt');
  const mine = await upload('ann', 'mine.txt');
  const [pending] = await db.sql`select chat_server.begin_attachment('ann', 'p.txt', 'text/plain') as id`;
  const [{ before }] =
    await db.sql`select last_seq as before from chat_private.conversations where conversation_id = ${group}`;
  for (const ids of [
    [mine, bens],
    [pending?.id],
    ['00000000-0000-0000-0000-000000000000'],
    ['not-a-uuid'],
    [mine, ''],
  ]) {
    await expectCode(sendWith('ann', group, 'with files', ids), 'MCATT');
  }
  const eleven = Array.from({ length: 11 }, () => mine);
  await expectCode(sendWith('ann', group, 'too many', eleven), 'MCLIM');
  const [{ after }] =
    await db.sql`select last_seq as after from chat_private.conversations where conversation_id = ${group}`;
  assert.is(after, before);
  const [row] =
    await db.sql`select conversation_id from chat_private.attachments where attachment_id = ${mine}`;
  assert.is(row?.conversation_id, null, 'still unattached');
  // No body and no attachments is still an empty message.
  await expectCode(sendWith('ann', group, null, []), 'MCEMB');
});

test('attachments: former members and members who deleted the chat cannot read them', async () => {
  const [g] = await db.sql`select * from chat.create_group('ann', 'Files', array['cat', 'dan'])`;
  const id = g?.conversation_id;
  const file = await upload('ann', 'plan.pdf');
  await sendWith('ann', id, 'the plan', [file]);
  await db.sql`select chat.delete_conversation('cat', ${id})`;
  const readable = async (reader: string) =>
    (await db.sql`select * from chat_server.attachment_for_reader(${reader}, ${file})`).length === 1;
  assert.not.ok(await readable('cat'));
  assert.ok(await readable('dan'));
  // Sent after dan left: not for him.
  await db.sql`select chat.leave_conversation('dan', ${id})`;
  const later = await upload('ann', 'later.pdf');
  await sendWith('ann', id, 'after dan', [later]);
  assert.ok(await readable('dan'), 'what he saw stays readable');
  assert.is((await db.sql`select * from chat_server.attachment_for_reader('dan', ${later})`).length, 0);
});

test('50 concurrent reactions to one message all count exactly once', async () => {
  const users = Array.from({ length: 50 }, (_, i) => `fan${i}`);
  await db.sql`select chat_admin.import_users(${db.sql.json(users.map((user_id) => ({ user_id })))})`;
  const [g] = await db.sql`select * from chat.create_group('ann', 'Fans', ${users})`;
  const { seq } = await sendIn(db.sql, 'ann', g?.conversation_id, 'applause please');
  const many = connectDatabase(db.url, { max: 50 });
  try {
    await Promise.all(
      users.map((user) => many`select chat.react(${user}, ${g?.conversation_id}, ${seq}, '👏')`),
    );
  } finally {
    await many.end();
  }
  const [message] = (await page('ann', g?.conversation_id)).filter((m) => m.seq === Number(seq));
  const [entry] = (message?.reactions ?? []) as { count: number; users: string[] }[];
  assert.is(entry?.count, 50);
  assert.equal([...(entry?.users ?? [])].sort(), [...users].sort());
});

test.run();
