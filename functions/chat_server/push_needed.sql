create or replace function chat_server.push_needed(user_id text, delay_seconds integer)
returns text
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_user chat_private.users;
  v_pushed timestamptz;
  v_since timestamptz;
  v_oldest timestamptz;
  v_conversations jsonb;
begin
  select * into v_user from chat_private.users u where u.user_id = push_needed.user_id;
  if not found then
    return 'gone';
  end if;
  if chat_private.online(v_user.user_id) then
    return 'online';
  end if;
  -- One push per offline period: it ends when they read or come online after the last push.
  select ps.pushed_at into v_pushed from chat_private.push_state ps where ps.user_id = v_user.user_id for update;
  v_since := chat_private.push_reset_at(v_user.user_id);
  if v_pushed is not null and v_pushed >= coalesce(v_since, '-infinity') then
    return 'already';
  end if;
  v_since := greatest(v_since, v_pushed);
  -- The oldest message waiting for them since then, in a conversation they did not mute.
  select min(msg.sent_at) into v_oldest
  from chat_private.memberships m
  join chat_private.messages msg on msg.conversation_id = m.conversation_id
    and msg.seq > greatest(m.read_seq, m.cleared_seq)
  where m.user_id = v_user.user_id and m.left_seq is null and not m.muted
    and msg.sender <> v_user.user_id and not msg.sender = any(v_user.blocked) and msg.deleted_at is null
    and (v_since is null or msg.sent_at > v_since);
  if v_oldest is null then
    return 'nothing'; -- read in time
  end if;
  if v_oldest > now() - make_interval(secs => delay_seconds) then
    perform chat_private.wake_push(v_user.user_id, v_oldest + make_interval(secs => delay_seconds));
    return 'later';
  end if;
  select coalesce(jsonb_agg(jsonb_build_object(
      'conversation_id', c.conversation_id,
      'unread', chat_private.unread(c, m),
      'last_message', (select to_jsonb(chat_private.message_row(msg)) from chat_private.messages msg
                       where msg.conversation_id = c.conversation_id and msg.seq = c.last_seq))
    order by c.last_activity_at desc, c.conversation_id desc), '[]')
  into v_conversations
  from chat_private.memberships m
  join chat_private.conversations c on c.conversation_id = m.conversation_id
  where m.user_id = v_user.user_id and m.left_seq is null and not m.muted
    and chat_private.unread(c, m) > 0;
  perform chat_private.enqueue_webhooks('push.needed', 'u:' || md5(v_user.user_id),
    jsonb_build_object('user', v_user.user_id,
      'unread', (select coalesce(sum((e ->> 'unread')::bigint), 0) from jsonb_array_elements(v_conversations) e),
      'conversations', v_conversations),
    now());
  insert into chat_private.push_state as ps (user_id, pushed_at) values (v_user.user_id, now())
  on conflict (user_id) do update set pushed_at = excluded.pushed_at;
  return 'pushed';
end
$$;
comment on function chat_server.push_needed(text, integer) is
  'For the push_needed job: sends push.needed for a user when a message has waited for them unread '
  'for delay_seconds in a conversation they did not mute, they are offline and were not pushed in this '
  'offline period (reading or coming online starts a new one). Returns pushed, later (queued again for '
  'when the oldest waiting message is old enough), already, online, nothing (read in time) or gone.';
