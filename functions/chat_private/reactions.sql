-- A message's reactions are a small set read with it (DESIGN.md), so they are kept on the message row:
-- a JSON array with one entry per emoji, {emoji, count, users}, emoji in the order they were first
-- used and users in the order they reacted. Changing it rewrites one row under that row's lock.

-- An emoji as given (no trimming: it is compared as is): 1 to 32 characters without white space or
-- control characters.
create or replace function chat_private.checked_emoji(emoji text)
returns text
language plpgsql
immutable
as $$
begin
  if emoji is null or length(emoji) not between 1 and 32 or emoji ~ '[[:space:][:cntrl:]]' then
    raise exception using errcode = 'MCEMO',
      message = 'emoji must be 1 to 32 characters without white space';
  end if;
  return emoji;
end
$$;

-- The reactions with the user's reaction added (unchanged when it is there already). MCRXN when the
-- emoji would be one more than max_emoji distinct ones.
create or replace function chat_private.with_reaction(reactions jsonb, emoji text, user_id text, max_emoji integer)
returns jsonb
language plpgsql
immutable
as $$
declare
  v_index integer;
  v_entry jsonb;
begin
  select r.i - 1, r.entry into v_index, v_entry
  from jsonb_array_elements(reactions) with ordinality as r(entry, i)
  where r.entry ->> 'emoji' = emoji;
  if v_entry is null then
    if jsonb_array_length(reactions) >= max_emoji then
      raise exception using errcode = 'MCRXN',
        message = format('a message has at most %s different reactions', max_emoji);
    end if;
    return reactions || jsonb_build_array(jsonb_build_object('emoji', emoji, 'count', 1, 'users', jsonb_build_array(user_id)));
  end if;
  if v_entry -> 'users' ? user_id then
    return reactions;
  end if;
  return jsonb_set(reactions, array[v_index::text], jsonb_build_object(
    'emoji', emoji, 'count', (v_entry ->> 'count')::integer + 1, 'users', (v_entry -> 'users') || to_jsonb(user_id)));
end
$$;

-- The reactions without the user's reaction (unchanged when there is none); an emoji nobody uses any
-- more goes.
create or replace function chat_private.without_reaction(reactions jsonb, emoji text, user_id text)
returns jsonb
language sql
immutable
as $$
  select coalesce(jsonb_agg(
    case when r.entry ->> 'emoji' = emoji and r.entry -> 'users' ? user_id
      then jsonb_build_object('emoji', emoji, 'count', (r.entry ->> 'count')::integer - 1, 'users', (r.entry -> 'users') - user_id)
      else r.entry
    end order by r.i), '[]')
  from jsonb_array_elements(reactions) with ordinality as r(entry, i)
  where not (r.entry ->> 'emoji' = emoji and r.entry -> 'users' = jsonb_build_array(user_id))
$$;
