create or replace function chat.mark_read(actor text, conversation_id bigint, seq bigint default null)
returns chat.conversation
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(mark_read.conversation_id, false);
  v_membership chat_private.memberships := chat_private.membership(chat_private.nfc(actor), mark_read.conversation_id, false);
  v_visible bigint := chat_private.visible_seq(v_conversation, v_membership);
begin
  actor := chat_private.nfc(actor);
  if mark_read.seq < 0 then
    raise exception using errcode = 'MCARG', message = 'seq must not be negative';
  end if;
  update chat_private.memberships m
  set read_seq = greatest(m.read_seq, least(coalesce(mark_read.seq, v_visible), v_visible)),
      read_at = case when least(coalesce(mark_read.seq, v_visible), v_visible) > m.read_seq then now() else m.read_at end
  where m.conversation_id = mark_read.conversation_id and m.user_id = actor
  returning * into v_membership;
  return chat_private.conversation_row(v_conversation, v_membership);
end
$$;
comment on function chat.mark_read(text, bigint, bigint) is
  'Marks a conversation read up to seq (default: its latest message). The read position never moves '
  'backwards. Returns the conversation with its new unread count. Errors: MCARG, MCNCV, MCNMB.';
