create or replace function chat.list_read_positions(actor text, conversation_id bigint)
returns table ("user" text, read_seq bigint, read_at timestamptz)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(list_read_positions.conversation_id, false);
  v_reader chat_private.users;
begin
  actor := chat_private.nfc(actor);
  v_reader := chat_private.require_user(actor);
  perform chat_private.membership(actor, list_read_positions.conversation_id, true);
  return query
  select m.user_id, m.read_seq, m.read_at
  from chat_private.memberships m
  join chat_private.users u on u.user_id = m.user_id
  where m.conversation_id = list_read_positions.conversation_id and m.left_seq is null
    and (u.user_id = v_reader.user_id
         or (u.share_read_receipts and v_reader.share_read_receipts and not chat_private.blocked_between(u, v_reader)))
  order by m.user_id;
end
$$;
comment on function chat.list_read_positions(text, bigint) is
  'How far each current member has read: read_seq and when they got there (read_at; null if never). '
  'Leaves out members who do not share read receipts and members blocked either way; receipts are '
  'mutual, so if you do not share yours you see only your own. Members only. Errors: MCNCV, MCNMB, MCUNU.';
