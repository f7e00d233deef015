create or replace function chat_admin.export_user_messages("user" text, after_message_id bigint default 0)
returns table (message jsonb)
language sql
stable
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
  select jsonb_build_object('message_id', msg.message_id, 'conversation_id', msg.conversation_id,
    'seq', msg.seq, 'body', msg.body, 'sent_at', msg.sent_at, 'edited_at', msg.edited_at,
    'deleted_at', msg.deleted_at, 'reply_to_seq', msg.reply_to_seq, 'client_id', msg.client_id,
    'reactions', msg.reactions, 'attachments', msg.attachments,
    'edits', coalesce((
      select jsonb_agg(jsonb_build_object('body', e.body, 'written_at', e.written_at,
        'replaced_at', e.replaced_at) order by e.replaced_at, e.edit_id)
      from chat_private.message_edits e where e.message_id = msg.message_id), '[]'))
  from chat_private.messages msg
  where msg.sender = (select u.user_id from chat_private.users u where u.user_id = chat_private.nfc("user"))
    and msg.message_id > after_message_id
  order by msg.message_id
$$;
comment on function chat_admin.export_user_messages(text, bigint) is
  'The messages a user sent, one row each (message: the same fields as export_user''s messages, with '
  'message_id), in sending order after after_message_id: for exports too large for one document, read '
  'as a stream (psql: \copy (select * from chat_admin.export_user_messages(''u'')) to ''u.jsonl'') or '
  'in pages (pass the last message_id seen). No rows for an unknown user.';
