create or replace function chat.set_typing(actor text, conversation_id bigint, typing boolean default true)
returns boolean
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(set_typing.conversation_id, false);
  v_membership chat_private.memberships;
  v_typist chat_private.users;
  v_forwarded boolean;
  v_payload jsonb;
begin
  actor := chat_private.nfc(actor);
  if set_typing.typing is null then
    raise exception using errcode = 'MCARG', message = 'typing must be true or false';
  end if;
  v_typist := chat_private.require_user(actor);
  v_membership := chat_private.membership(actor, set_typing.conversation_id, true);
  perform chat_private.require_not_blocked(v_conversation, v_typist);

  -- At most one forwarded call per 2 s; the window starts afresh once the typist has sent (or read)
  -- something since, so the next message's typing shows at once. A dropped call reads only: no row
  -- lock, no transaction id, nothing to commit.
  if exists (
    select from chat_private.typing_throttle t
    where t.conversation_id = set_typing.conversation_id and t.user_id = actor
      and t.forwarded_at > clock_timestamp() - interval '2 seconds'
      and t.forwarded_at >= coalesce(v_membership.read_at, '-infinity')
  ) then
    return false;
  end if;
  insert into chat_private.typing_throttle as t (conversation_id, user_id, forwarded_at)
  values (set_typing.conversation_id, actor, clock_timestamp())
  on conflict (conversation_id, user_id) do update set forwarded_at = excluded.forwarded_at
  where t.forwarded_at <= clock_timestamp() - interval '2 seconds'
     or t.forwarded_at < v_membership.read_at
  returning true into v_forwarded;
  if v_forwarded is null then
    return false;
  end if;

  v_payload := jsonb_build_object('conversation_id', set_typing.conversation_id, 'user', actor,
    'typing', set_typing.typing,
    'expires_at', case when set_typing.typing then clock_timestamp() + interval '6 seconds' end);
  -- The audience rides along unless the group is large: a NOTIFY payload must stay under 8000 bytes, so
  -- for big groups each process looks it up (chat_server.typing_audience) instead.
  if cardinality(v_conversation.members) <= 100 then
    v_payload := v_payload || jsonb_build_object('recipients', chat_private.typing_audience(v_conversation, v_typist));
    if octet_length(v_payload::text) > 7000 then
      v_payload := v_payload - 'recipients';
    end if;
  end if;
  perform pg_notify('microchatter_typing', v_payload::text);
  return true;
end
$$;
comment on function chat.set_typing(text, bigint, boolean) is
  'Tells the other members you are typing (typing true, the default) or stopped (false): a typing event '
  '{conversation_id, user, typing, expires_at} on their live streams, never stored or replayed; it '
  'expires by itself at expires_at (6 s later), and sending a message ends it. At most one call per '
  'conversation every 2 seconds is forwarded (returns true); calls in between are accepted and dropped '
  '(false). Members only; refused in a direct chat where either side blocked the other, and users who '
  'blocked you (or whom you blocked) do not see your typing in groups. Errors: MCARG, MCNCV, MCNMB, MCBLK.';
