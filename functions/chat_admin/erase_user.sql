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

  if to_regnamespace('graphile_worker') is not null then
    perform graphile_worker.remove_job('push:' || md5(v_id)); -- its payload names them
  end if;
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
