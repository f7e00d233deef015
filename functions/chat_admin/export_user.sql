create or replace function chat_admin.export_user("user" text)
returns jsonb
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user chat_private.users := chat_private.require_user(chat_private.nfc("user"));
  v_id text := v_user.user_id;
begin
  return jsonb_build_object(
    'exported_at', now(),
    'profile', jsonb_build_object('user_id', v_id, 'display_name', v_user.display_name,
      'created_at', v_user.created_at, 'updated_at', v_user.updated_at,
      'suspended_at', v_user.suspended_at, 'suspended_until', v_user.suspended_until),
    'settings', jsonb_build_object('share_read_receipts', v_user.share_read_receipts,
      'share_presence', v_user.share_presence),
    'blocked', to_jsonb(v_user.blocked),
    'memberships', coalesce((
      select jsonb_agg(jsonb_build_object('conversation_id', m.conversation_id, 'kind', c.kind,
          'title', coalesce(m.left_title, c.title), 'read_seq', m.read_seq, 'read_at', m.read_at,
          'muted', m.muted, 'hidden', chat_private.hidden(c, m), 'left', m.left_seq is not null, 'left_seq', m.left_seq)
        order by m.conversation_id)
      from chat_private.memberships m
      join chat_private.conversations c on c.conversation_id = m.conversation_id
      where m.user_id = v_id), '[]'),
    'messages', coalesce((
      select jsonb_agg(jsonb_build_object('conversation_id', msg.conversation_id, 'seq', msg.seq,
          'body', msg.body, 'sent_at', msg.sent_at, 'edited_at', msg.edited_at, 'deleted_at', msg.deleted_at,
          'reply_to_seq', msg.reply_to_seq, 'client_id', msg.client_id, 'reactions', msg.reactions,
          'attachments', msg.attachments,
          'edits', coalesce((
            select jsonb_agg(jsonb_build_object('body', e.body, 'written_at', e.written_at,
              'replaced_at', e.replaced_at) order by e.replaced_at, e.edit_id)
            from chat_private.message_edits e where e.message_id = msg.message_id), '[]'))
        order by msg.conversation_id, msg.seq)
      from chat_private.messages msg where msg.sender = v_id), '[]'),
    'reactions', coalesce((
      select jsonb_agg(jsonb_build_object('conversation_id', msg.conversation_id, 'seq', msg.seq,
          'emoji', r ->> 'emoji') order by msg.conversation_id, msg.seq, r ->> 'emoji')
      from chat_private.memberships m
      join chat_private.messages msg on msg.conversation_id = m.conversation_id
      cross join lateral jsonb_array_elements(msg.reactions) r
      where m.user_id = v_id and msg.reactions <> '[]' and r -> 'users' ? v_id), '[]'),
    'attachments', coalesce((
      select jsonb_agg(jsonb_build_object('attachment_id', a.attachment_id, 'name', a.name,
          'content_type', a.content_type, 'size', a.size, 'conversation_id', a.conversation_id,
          'seq', a.seq, 'created_at', a.created_at) order by a.created_at, a.attachment_id)
      from chat_private.attachments a where a.uploader = v_id), '[]'),
    'reports', coalesce((
      select jsonb_agg(jsonb_build_object('report_id', r.report_id, 'conversation_id', r.conversation_id,
          'seq', r.seq, 'reason', r.reason, 'status', r.status, 'created_at', r.created_at)
        order by r.report_id)
      from chat_private.reports r where r.reporter = v_id), '[]')
  );
end
$$;
comment on function chat_admin.export_user(text) is
  'Everything Microchatter keeps about a user, as one JSON document (GDPR access and portability): '
  'profile, settings, blocked list, memberships, every message they sent with its edit history, '
  'reactions and attachment metadata, the reactions they made and the reports they filed. Attachment '
  'contents are fetched separately (GET /attachments/<id>). Errors: MCUNU.';
