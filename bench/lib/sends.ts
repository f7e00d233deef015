/** What the send benchmarks share: the statement the server sends, and a busy group to send into. */
import type postgres from 'postgres';

/**
 * Exactly the statement server/rpc.ts builds for `POST /rpc/send_message {conversation_id, body}`, so
 * both sides of an HTTP ÷ SQL figure run the same SQL: only HTTP, JSON, authentication and the
 * server's Node work differ.
 */
export const SEND_STATEMENT =
  'select * from "chat"."send_message"("actor" => $1::text, "conversation_id" => $2::bigint, "body" => $3::text)';

/** Users sender_1…sender_N and one group of them all, created by sender_1. */
export async function createSenderGroup(
  sql: postgres.Sql,
  count: number,
  title: string,
): Promise<{ senders: string[]; conversation: number }> {
  const senders = Array.from({ length: count }, (_, i) => `sender_${i + 1}`);
  for (const sender of senders) await sql`select from chat_admin.ensure_user(${sender})`;
  const [group] = await sql<{ conversation_id: number }[]>`
    select conversation_id from chat.create_group(${senders[0] ?? ''}, ${title}, ${sql.array(senders.slice(1))})`;
  return { senders, conversation: Number(group?.conversation_id) };
}
