/**
 * Bulk test data written straight into chat_private with generate_series: a million messages take
 * seconds this way, where a million chat.send_message calls would take many minutes. The rows are
 * exactly what chat.send_message would have left behind (checked by checkConversation).
 */
import type postgres from 'postgres';

export interface DirectChats {
  owner: string;
  /** Peers are `${peerPrefix}1`, `${peerPrefix}2`, …; one direct chat with each. */
  peerPrefix: string;
  chats: number;
  messagesPerChat: number;
}

/**
 * Creates the users and `chats` direct conversations of `owner`, each with `messagesPerChat` messages
 * sent alternately by the two members (members[1] sends the odd seqs), and returns their ids in peer
 * order. All of it lies in the last 30 days, one chat after the other, so the newest chat is the last
 * peer's and every real send made afterwards is newer still.
 */
export async function createDirectChats(sql: postgres.Sql, spec: DirectChats): Promise<string[]> {
  // History is generated without the realtime events its triggers would queue (one per message, at
  // commit): they would only slow the generation down. Replica mode skips triggers; it needs a superuser.
  return sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    return generate(tx, spec);
  });
}

async function generate(sql: postgres.TransactionSql, spec: DirectChats): Promise<string[]> {
  const { owner, peerPrefix, chats, messagesPerChat: n } = spec;
  await sql`
    insert into chat_private.users (user_id, display_name)
    select ${owner}, 'Bench ' || ${owner}
    union all
    select ${peerPrefix} || i, 'Peer ' || i from generate_series(1, ${chats}::int) i
    on conflict (user_id) do nothing`;

  // As chat_private.direct_conversation and chat.send_message leave them: members and direct_pair
  // are the sorted pair; last_seq = n; the conversation's and both memberships' last_activity_at are
  // the last message's sent_at; a member's read_seq is the last seq they sent (sending marks read).
  const rows = await sql<{ conversation_id: string }[]>`
    with clock as (
      select now() - interval '30 days' as start,
             interval '30 days' / (${chats}::float8 * (${n}::int + 1) + 1) as step
    ),
    spec as (
      select i, array[least(${owner} collate "C", p collate "C"), greatest(${owner} collate "C", p collate "C")] as pair,
             clock.start + (i - 1) * (${n}::int + 1) * clock.step as t0
      from clock, generate_series(1, ${chats}::int) i, lateral (select ${peerPrefix} || i as p) peer
    ),
    conv as (
      insert into chat_private.conversations (kind, members, direct_pair, last_seq, last_activity_at, created_at)
      select 'direct', pair, pair, ${n}::int, t0 + ${n}::int * clock.step, t0
      from spec, clock
      order by i
      returning conversation_id, members, last_activity_at, created_at
    ),
    new_memberships as (
      insert into chat_private.memberships (conversation_id, user_id, read_seq, last_activity_at)
      select conv.conversation_id, member.user_id,
             case when ${n}::int >= member.k then ${n}::int - (${n}::int - member.k) % 2 else 0 end,
             conv.last_activity_at
      from conv, unnest(conv.members) with ordinality as member(user_id, k)
    ),
    -- Each message names one of 1000 topics, so a search for one topic ('k417') matches 0.1% of them.
    -- The search vector is what chat_private.search_vector makes of the body (in the default 'simple'
    -- configuration) but built from a constant part and the two words that vary, without their
    -- positions: to_tsvector on every row would take 8 times as long.
    words as (
      select to_tsvector('simple', 'Benchmark message, about as long as a short chat line usually is, topic.') as fixed
    ),
    new_messages as (
      insert into chat_private.messages (conversation_id, seq, sender, body, sent_at, search)
      select conv.conversation_id, j, conv.members[2 - j % 2],
             'Benchmark message ' || j || ', about as long as a short chat line usually is, topic ' || topic || '.',
             conv.created_at + j * clock.step,
             words.fixed || array_to_tsvector(array[j::text, topic])
      from conv, clock, words, generate_series(1, ${n}::int) j,
           lateral (select 'k' || (conv.conversation_id * 37 + j) % 1000 as topic) t
      order by conv.conversation_id, j
    )
    select conversation_id from conv order by conversation_id`;
  return rows.map((row) => row.conversation_id);
}

/** Fails unless seq is gap-free 1..last_seq (the primary key makes count + min + max enough). */
export async function checkConversation(sql: postgres.Sql, conversationId: string): Promise<void> {
  const [row] = await sql<{ ok: boolean }[]>`
    select count(m.*) = c.last_seq and coalesce(min(m.seq), 1) = 1 and coalesce(max(m.seq), 0) = c.last_seq as ok
    from chat_private.conversations c
    left join chat_private.messages m on m.conversation_id = c.conversation_id
    where c.conversation_id = ${conversationId}
    group by c.conversation_id`;
  if (!row?.ok) throw new Error(`generated conversation ${conversationId} is not gap-free 1..last_seq`);
}
