create or replace function chat.get_presence(actor text, users text[])
returns table ("user" text, online boolean, last_seen_at timestamptz)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_actor chat_private.users;
begin
  actor := chat_private.nfc(actor);
  users := chat_private.nfc(users);
  if users is null then
    raise exception using errcode = 'MCARG', message = 'users must be an array of user ids';
  end if;
  if cardinality(users) > 100 then
    raise exception using errcode = 'MCLIM', message = 'at most 100 users per call';
  end if;
  v_actor := chat_private.require_user(actor);
  return query
  select u.user_id,
         coalesce(visible and p.online, false),
         case when visible and not coalesce(p.online, false) then p.last_seen_at end
  from (select distinct q.user_id from unnest(users) q(user_id)) q
  join chat_private.users u on u.user_id = q.user_id
  left join chat_private.presence p on p.user_id = u.user_id
  cross join lateral (
    select u.user_id = v_actor.user_id
      or (u.share_presence and v_actor.share_presence and not chat_private.blocked_between(u, v_actor)) as visible
  ) v
  where u.user_id = v_actor.user_id or exists (
    select from chat_private.memberships mine
    join chat_private.memberships theirs
      on theirs.conversation_id = mine.conversation_id and theirs.user_id = u.user_id and theirs.left_seq is null
    where mine.user_id = v_actor.user_id and mine.left_seq is null
  )
  order by u.user_id;
end
$$;
comment on function chat.get_presence(text, text[]) is
  'Whether these users (at most 100) are online, and when they were last seen (null while online, or '
  'when they hide it): users you share a conversation with, and yourself; others are left out, not an '
  'error. Someone who does not share presence, who blocked you or whom you blocked is always offline '
  'with no last_seen_at; if you do not share yours, everyone else looks that way to you. Errors: '
  'MCARG, MCLIM, MCUNU.';
