/** Small conveniences for calling the SQL API the way a DBA would, from the test suites. */

import type postgres from 'postgres';
import * as assert from 'uvu/assert';

type Sql = postgres.Sql;

/** Creates users with the admin API; display names are the ids capitalised. */
export async function createUsers(sql: Sql, ...ids: string[]): Promise<void> {
  for (const id of ids) {
    await sql`select chat_admin.create_user(${id}, ${id[0]?.toUpperCase() + id.slice(1)})`;
  }
}

export interface SentMessage {
  id: string;
  conversation_id: string;
  seq: string;
  sender: string;
  body: string;
  client_id: string | null;
  sent_at: Date;
}

export async function sendTo(sql: Sql, actor: string, recipient: string, body: string): Promise<SentMessage> {
  const [message] = await sql<SentMessage[]>`
    select * from chat.send_message(${actor}, recipient => ${recipient}, body => ${body})`;
  assert.ok(message);
  return message;
}

export async function sendIn(
  sql: Sql,
  actor: string,
  conversationId: string | number,
  body: string,
): Promise<SentMessage> {
  const [message] = await sql<SentMessage[]>`
    select * from chat.send_message(${actor}, conversation_id => ${conversationId}, body => ${body})`;
  assert.ok(message);
  return message;
}

/** Asserts that a query fails with the given SQLSTATE (our own MC… codes), and returns the error. */
export async function expectCode(query: Promise<unknown>, code: string): Promise<postgres.PostgresError> {
  try {
    await query;
  } catch (error) {
    const pgError = error as postgres.PostgresError;
    assert.is(pgError.code, code, `expected ${code}, got ${pgError.code}: ${pgError.message}`);
    return pgError;
  }
  assert.unreachable(`expected the query to fail with ${code}`);
  throw new Error('unreachable');
}

/** Seqs of a page of messages as numbers, in the order returned. */
export function seqs(rows: readonly postgres.Row[]): number[] {
  return rows.map((row) => Number(row.seq));
}

/**
 * Runs `work` on one connection of its own and resets that session afterwards, for tests that change
 * session settings or the role (inside sql.begin, a caught error would still fail the transaction).
 */
export async function onOwnSession(
  sql: Sql,
  work: (session: postgres.ReservedSql) => Promise<void>,
): Promise<void> {
  const session = await sql.reserve();
  try {
    await work(session);
  } finally {
    await session`discard all`;
    session.release();
  }
}
