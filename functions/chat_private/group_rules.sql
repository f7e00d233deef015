-- Group rules: the owner (creator) and the admins the owner names manage the group; any member may
-- send and leave. See docs/sql-api.md.

-- A group title or display name: at most 200 characters, no control characters; required when
-- `required`. Returns it trimmed.
create or replace function chat_private.checked_label(value text, what text, required boolean)
returns text
language plpgsql
immutable
as $$
begin
  value := btrim(value);
  if value = '' then
    value := null;
  end if;
  if value is null and required then
    raise exception using errcode = 'MCARG', message = format('%s is required', what);
  end if;
  if length(value) > 200 or value ~ '[[:cntrl:]]' then
    raise exception using errcode = 'MCARG',
      message = format('%s must be at most 200 characters without control characters', what);
  end if;
  return value;
end
$$;

create or replace function chat_private.require_group_admin(c chat_private.conversations, actor text)
returns void
language plpgsql
immutable
as $$
begin
  if c.kind <> 'group' then
    raise exception using errcode = 'MCKND', message = 'this is a direct conversation, not a group';
  end if;
  if not actor = any(c.admins) then
    raise exception using errcode = 'MCFRB', message = 'only the group''s owner and admins may do this';
  end if;
end
$$;

-- Adds users to a group (new, or back after leaving). They see messages from now on, not the
-- history before they joined. Users already in the group are skipped. Returns the updated row.
create or replace function chat_private.join_group(c chat_private.conversations, actor text, users text[])
returns chat_private.conversations
language plpgsql
volatile
as $$
declare
  v_new text[];
  v_unknown text;
  v_blocker text;
  v_max integer := chat_private.setting('max_group_members', 1000);
begin
  if users is null then
    raise exception using errcode = 'MCARG', message = 'members must be a list of user ids';
  end if;
  if cardinality(users) > v_max then
    raise exception using errcode = 'MCFUL', message = format('a group has at most %s members', v_max);
  end if;
  select coalesce(array_agg(x.u order by x.first), '{}') into v_new
  from (select u, min(i) as first from unnest(users) with ordinality as t(u, i) where u is not null group by u) x
  where not x.u = any(c.members);

  select u into v_unknown from unnest(v_new) u
  where not exists (select from chat_private.users usr where usr.user_id = u) limit 1;
  if found then
    raise exception using errcode = 'MCUNU', message = format('unknown user %s', v_unknown);
  end if;
  select usr.user_id into v_blocker from chat_private.users usr
  where usr.user_id = any(v_new) and actor = any(usr.blocked) limit 1;
  if found then
    raise exception using errcode = 'MCBLK', message = format('%s does not accept messages from you', v_blocker);
  end if;
  if cardinality(c.members) + cardinality(v_new) > v_max then
    raise exception using errcode = 'MCFUL', message = format('a group has at most %s members', v_max);
  end if;

  insert into chat_private.memberships as m (conversation_id, user_id, read_seq, cleared_seq, follows_group)
  select c.conversation_id, u, c.last_seq, c.last_seq, true from unnest(v_new) u
  on conflict (conversation_id, user_id) do update
    set read_seq = excluded.read_seq, cleared_seq = excluded.cleared_seq, left_seq = null,
        left_title = null, left_members = null, left_owner = null, left_admins = null,
        hidden = false, last_activity_at = now(), follows_group = true;

  update chat_private.conversations cv set members = cv.members || v_new
  where cv.conversation_id = c.conversation_id
  returning * into c;
  return c;
end
$$;

-- Takes a user out of a group: they keep what they saw until now and get nothing later. When the
-- owner goes, the longest-standing admin, else the longest-standing member, becomes owner.
create or replace function chat_private.leave_group(c chat_private.conversations, leaver text)
returns chat_private.conversations
language plpgsql
volatile
as $$
declare
  v_members text[] := array_remove(c.members, leaver);
  v_admins text[] := array_remove(c.admins, leaver);
  v_owner text := c.owner;
begin
  if c.kind <> 'group' then
    raise exception using errcode = 'MCKND', message = 'a direct conversation cannot be left; delete it instead';
  end if;
  if v_owner = leaver then
    v_owner := coalesce(v_admins[1], v_members[1]);
    if v_owner is not null and not v_owner = any(v_admins) then
      v_admins := array_prepend(v_owner, v_admins);
    end if;
  end if;
  update chat_private.conversations cv set members = v_members, admins = v_admins, owner = v_owner
  where cv.conversation_id = c.conversation_id
  returning * into c;

  -- The leaver keeps seeing the group as it stood the moment they were out of it: later renames and
  -- members are none of their business (chat_private.conversation_rows shows this snapshot), and its
  -- place in their inbox stays where its last message put it (chat_private.activity_at).
  update chat_private.memberships m
  set left_seq = c.last_seq, left_title = c.title, left_members = c.members, left_owner = c.owner,
      left_admins = c.admins, last_activity_at = chat_private.activity_at(c, m), follows_group = false
  where m.conversation_id = c.conversation_id and m.user_id = leaver and m.left_seq is null;
  return c;
end
$$;
