--! Previous: sha1:0fe0b1ae126147944cddea33b431eaf9e95d63e6
--! Hash: sha1:f2bd9f39dce657c548fdcec0acaa3287dff67540
--! Message: GDPR: export_user as one document, erase_user anonymize or purge, leaving no body in tables, the event log or pending deliveries

--! Included chat_private/erased_json.sql
-- A JSON document with a user erased from it (chat_admin.erase_user): every string equal to their id,
-- and every key, becomes the pseudonym, and a message object they sent loses its body, attachments
-- and reactions, as a tombstone. Used on the event log and pending webhook deliveries, which keep
-- copies of messages.
create or replace function chat_private.erased_json(doc jsonb, user_id text, pseudonym text)
returns jsonb
language plpgsql
immutable
as $$
declare
  v_out jsonb;
begin
  case jsonb_typeof(doc)
  when 'string' then
    return case when doc #>> '{}' = user_id then to_jsonb(pseudonym) else doc end;
  when 'array' then
    select coalesce(jsonb_agg(chat_private.erased_json(e, user_id, pseudonym) order by i), '[]')
    into v_out from jsonb_array_elements(doc) with ordinality a(e, i);
    return v_out;
  when 'object' then
    select coalesce(jsonb_object_agg(case when k = user_id then pseudonym else k end,
      chat_private.erased_json(v, user_id, pseudonym)), '{}')
    into v_out from jsonb_each(doc) o(k, v);
    if v_out ->> 'sender' = pseudonym and v_out ? 'body' then
      v_out := v_out || jsonb_build_object('body', '');
      if v_out ? 'attachments' then v_out := v_out || jsonb_build_object('attachments', '[]'::jsonb); end if;
      if v_out ? 'reactions' then v_out := v_out || jsonb_build_object('reactions', '[]'::jsonb); end if;
    end if;
    return v_out;
  else
    return doc;
  end case;
end
$$;
--! EndIncluded chat_private/erased_json.sql
--! Included chat_admin/export_user.sql
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
          'muted', m.muted, 'hidden', m.hidden, 'left', m.left_seq is not null, 'left_seq', m.left_seq)
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
--! EndIncluded chat_admin/export_user.sql
--! Included chat_admin/erase_user.sql
create or replace function chat_admin.erase_user("user" text, mode text default 'anonymize')
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_id text := chat_private.nfc("user");
  v_pseudonym text := 'erased_' || left(replace(gen_random_uuid()::text, '-', ''), 16);
  v_group chat_private.conversations;
  v_messages bigint;
  v_needle text;
begin
  if mode is null or mode not in ('anonymize', 'purge') then
    raise exception using errcode = 'MCARG', message = 'mode must be anonymize or purge';
  end if;
  perform chat_private.require_user(v_id);
  perform from chat_private.users u where u.user_id = v_id for update;
  v_needle := to_jsonb(v_id)::text;

  -- Their messages become tombstones under the pseudonym; seq stays, so nobody's history has gaps.
  delete from chat_private.message_edits e
  using chat_private.messages msg
  where e.message_id = msg.message_id and msg.sender = v_id;
  delete from chat_private.message_edits e where e.sender = v_id;
  delete from chat_private.attachments a
  where a.uploader = v_id
     or exists (select from chat_private.messages msg
                where msg.conversation_id = a.conversation_id and msg.seq = a.seq and msg.sender = v_id);
  update chat_private.messages msg
  set sender = v_pseudonym, body = '', reactions = '[]', attachments = '[]', search = null,
      deleted_at = coalesce(msg.deleted_at, now())
  where msg.sender = v_id;
  get diagnostics v_messages = row_count;

  if mode = 'purge' then
    -- Out of their groups as by leave_conversation; their reactions and reports go with them.
    for v_group in
      select c.* from chat_private.conversations c
      join chat_private.memberships m on m.conversation_id = c.conversation_id
      where m.user_id = v_id and m.left_seq is null and c.kind = 'group'
      order by c.conversation_id
      for update of c
    loop
      perform chat_private.leave_group(v_group, v_id);
    end loop;
    update chat_private.messages msg
    set reactions = coalesce((
      select jsonb_agg(jsonb_build_object('emoji', r ->> 'emoji',
          'count', jsonb_array_length((r -> 'users') - v_id), 'users', (r -> 'users') - v_id) order by i)
      from jsonb_array_elements(msg.reactions) with ordinality x(r, i)
      where jsonb_array_length((r -> 'users') - v_id) > 0), '[]')
    where msg.reactions @> jsonb_build_array(jsonb_build_object('users', jsonb_build_array(v_id)));
    delete from chat_private.reports r where r.reporter = v_id;
  else
    -- The pseudonym takes their place as a member, reactor and reporter: an account nobody can use.
    insert into chat_private.users (user_id, display_name, password_hash, blocked, share_read_receipts,
      share_presence, suspended_at)
    values (v_pseudonym, null, null, '{}', false, false, now());
    update chat_private.memberships m set user_id = v_pseudonym where m.user_id = v_id;
    update chat_private.messages msg
    set reactions = chat_private.erased_json(msg.reactions, v_id, v_pseudonym)
    where msg.reactions @> jsonb_build_array(jsonb_build_object('users', jsonb_build_array(v_id)));
    update chat_private.reports r set reporter = v_pseudonym where r.reporter = v_id;
  end if;
  update chat_private.reports r set sender = v_pseudonym where r.sender = v_id;

  update chat_private.conversations c
  set members = array_replace(c.members, v_id, v_pseudonym),
      admins = array_replace(c.admins, v_id, v_pseudonym),
      owner = case when c.owner = v_id then v_pseudonym else c.owner end,
      -- a direct chat accepts no new message, and a new user with the same id starts afresh
      direct_pair = case when c.direct_pair @> array[v_id] then null else c.direct_pair end
  where c.members @> array[v_id] or c.admins @> array[v_id] or c.owner = v_id or c.direct_pair @> array[v_id];
  update chat_private.memberships m
  set left_members = array_replace(m.left_members, v_id, v_pseudonym),
      left_admins = array_replace(m.left_admins, v_id, v_pseudonym),
      left_owner = case when m.left_owner = v_id then v_pseudonym else m.left_owner end
  where m.left_members @> array[v_id] or m.left_admins @> array[v_id] or m.left_owner = v_id;
  update chat_private.users u set blocked = array_replace(u.blocked, v_id, v_pseudonym)
  where u.blocked @> array[v_id];

  -- Copies of their messages and id outside the tables above: the event log and pending deliveries.
  -- The events of this erasure are written first (they are deferred to commit otherwise, where a
  -- conversation's event would still name its former members).
  set constraints all immediate;
  update chat_private.events e
  set recipients = array_replace(e.recipients, v_id, v_pseudonym),
      payload = chat_private.erased_json(e.payload, v_id, v_pseudonym)
  where e.recipients @> array[v_id] or strpos(e.payload::text, v_needle) > 0;
  update chat_private.webhook_deliveries d
  set payload = chat_private.erased_json(d.payload, v_id, v_pseudonym)
  where d.payload is not null and strpos(d.payload::text, v_needle) > 0;

  delete from chat_private.rate_limits r where r.key = v_id;
  delete from chat_private.typing_throttle t where t.user_id = v_id;
  delete from chat_private.presence_leases l where l.user_id = v_id;
  delete from chat_private.users u where u.user_id = v_id;
  return jsonb_build_object('user', v_id, 'mode', mode, 'pseudonym', v_pseudonym, 'messages', v_messages);
end
$$;
comment on function chat_admin.erase_user(text, text) is
  'Erases a user (GDPR). Every message they sent becomes a tombstone (empty body, deleted_at set, no '
  'reactions, attachments or edit history, seq kept) whose sender is a pseudonym, erased_<16 hex>, the '
  'same for all of that user''s traces; their attachments are deleted; the event log and pending webhook '
  'deliveries lose their bodies and id. anonymize (the default): the pseudonym takes their place '
  'everywhere (member of their conversations, reactions, reports they filed), as a suspended account '
  'nobody can sign in to. purge: their rows go entirely: they leave their groups, their reactions, '
  'reports, settings and memberships are deleted; tombstones and member lists of direct chats keep the '
  'pseudonym. Direct chats stay with the other user but accept no new message. Returns {user, mode, '
  'pseudonym, messages}. Errors: MCARG, MCUNU.';
--! EndIncluded chat_admin/erase_user.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
