create or replace function chat.set_muted(actor text, conversation_id bigint, muted boolean default true)
returns chat.conversation
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(set_muted.conversation_id, false);
  v_membership chat_private.memberships := chat_private.membership(chat_private.nfc(actor), set_muted.conversation_id, false);
begin
  actor := chat_private.nfc(actor);
  update chat_private.memberships m set muted = coalesce(set_muted.muted, true)
  where m.conversation_id = set_muted.conversation_id and m.user_id = actor
  returning * into v_membership;
  return chat_private.conversation_row(v_conversation, v_membership);
end
$$;
comment on function chat.set_muted(text, bigint, boolean) is
  'Mutes (or with muted = false unmutes) a conversation for you: its messages still arrive and count '
  'per conversation, but not in unread_count''s total. Errors: MCNCV, MCNMB.';
