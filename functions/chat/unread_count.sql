create or replace function chat.unread_count(actor text, out total bigint, out conversations jsonb)
returns record
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select
    coalesce(sum(x.unread) filter (where not x.muted), 0)::bigint,
    coalesce(jsonb_agg(jsonb_build_object('conversation_id', x.conversation_id, 'unread', x.unread, 'muted', x.muted)
      order by x.conversation_id) , '[]')
  from (
    select m.conversation_id, m.muted, chat_private.unread(c, m) as unread
    from chat_private.users u
    join chat_private.memberships m on m.user_id = u.user_id
    join chat_private.conversations c on c.conversation_id = m.conversation_id
    where u.user_id = chat_private.nfc(actor) and chat_private.in_inbox(c, m, u.blocked)
  ) x
  where x.unread > 0
$$;
comment on function chat.unread_count(text) is
  'Your unread messages: total (muted conversations not counted) and, per conversation that has any, '
  '{conversation_id, unread, muted}. Counts only conversations your inbox shows.';
