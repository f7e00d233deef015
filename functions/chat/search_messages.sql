create or replace function chat.search_messages(
  actor text,
  query text,
  conversation_id bigint default null,
  before bigint default null,
  "limit" integer default 20
)
returns setof chat.found_message
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_config regconfig := chat_private.search_config();
  v_query tsquery;
  v_conversations bigint[];
begin
  actor := chat_private.nfc(actor);
  if "limit" is null or "limit" not between 1 and 100 then
    raise exception using errcode = 'MCLIM', message = 'limit must be between 1 and 100';
  end if;
  if query is null or length(query) > 1000 then
    raise exception using errcode = 'MCARG', message = 'query must be at most 1000 characters';
  end if;
  if search_messages.conversation_id is not null then
    perform chat_private.conversation(search_messages.conversation_id, false);
    perform chat_private.membership(actor, search_messages.conversation_id, false);
  end if;
  v_query := websearch_to_tsquery(v_config, query);
  if numnode(v_query) = 0 then
    return; -- nothing to look for: only punctuation, or only stop words of the configuration
  end if;
  -- The conversations to look in, given to the planner as a list: it then intersects the word's entries
  -- in the GIN index with the searcher's messages in the primary key (a BitmapAnd) and reads only the
  -- rows in both, so the cost follows the searcher's own history, not the size of the database.
  select coalesce(array_agg(m.conversation_id), '{}') into v_conversations
  from chat_private.memberships m
  where m.user_id = actor
    and (search_messages.conversation_id is null or m.conversation_id = search_messages.conversation_id);

  -- Planned for these values each time: a generic plan cannot tell a rare word from a common one.
  return query execute $sql$
    select (chat_private.message_row(found.msg)).*,
      ts_headline($1, replace(replace(replace((found.msg).body, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), $2,
        'StartSel=<mark>, StopSel=</mark>, MaxWords=30, MinWords=10')
    from (
      select msg, msg.message_id
      from chat_private.messages msg
      join chat_private.memberships m on m.conversation_id = msg.conversation_id and m.user_id = $3
      join chat_private.conversations c on c.conversation_id = msg.conversation_id
      where msg.search @@ $2
        and msg.conversation_id = any($4)
        and ($5::bigint is null or msg.message_id < $5)
        and msg.seq > m.cleared_seq
        and msg.seq <= coalesce(m.left_seq, c.last_seq)
        and msg.deleted_at is null
      order by msg.message_id desc
      limit $6
    ) found
    order by found.message_id desc
  $sql$ using v_config, v_query, actor, v_conversations, before, "limit";
end
$$;
comment on function chat.search_messages(text, text, bigint, bigint, integer) is
  'Full-text search over the messages you can read (your conversations, after your deletion point, not '
  'after you left; never deleted ones), newest first. query: web-search syntax (words, "a phrase", or, '
  '-word), at most 1000 characters. conversation_id: only that conversation. before: the id of the last '
  'result of the previous page. limit 1 to 100 (default 20). Each result is the message plus snippet: an '
  'HTML fragment of its body, escaped, with the matches in <mark></mark>. The text-search configuration is '
  'microchatter.search_config (default simple). Errors: MCARG, MCLIM, MCNCV, MCNMB.';
