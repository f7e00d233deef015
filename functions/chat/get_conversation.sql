create or replace function chat.get_conversation(actor text, conversation_id bigint)
returns chat.conversation
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select chat_private.conversation_row(
    chat_private.conversation(conversation_id, false),
    chat_private.membership(chat_private.nfc(actor), conversation_id, false)
  )
$$;
comment on function chat.get_conversation(text, bigint) is
  'One conversation as it appears in your inbox (also one you left or deleted). Errors: MCNCV, MCNMB.';
