create or replace function chat.list_messages(
  actor text,
  conversation_id bigint,
  before_seq bigint default null,
  after_seq bigint default null,
  "limit" integer default 50
)
returns setof chat.message
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations;
  v_membership chat_private.memberships;
  v_after bigint;
  v_before bigint;
begin
  actor := chat_private.nfc(actor);
  if "limit" is null or "limit" not between 1 and 200 then
    raise exception using errcode = 'MCLIM', message = 'limit must be between 1 and 200';
  end if;
  if before_seq < 0 or after_seq < 0 then
    raise exception using errcode = 'MCARG', message = 'before_seq and after_seq must not be negative';
  end if;
  v_conversation := chat_private.conversation(list_messages.conversation_id, false);
  v_membership := chat_private.membership(actor, list_messages.conversation_id, false);
  -- Nothing from before the member deleted the chat (or joined), nothing after they left.
  v_after := greatest(v_membership.cleared_seq, after_seq);
  v_before := least(chat_private.visible_seq(v_conversation, v_membership) + 1, before_seq);

  if after_seq is not null and before_seq is null then
    -- Paging forward: the `limit` messages right after after_seq.
    return query
    select page.* from (
      select (chat_private.message_row(msg)).*
      from chat_private.messages msg
      where msg.conversation_id = list_messages.conversation_id and msg.seq > v_after and msg.seq < v_before
      order by msg.seq
      limit "limit"
    ) page
    order by page.seq desc;
  else
    return query
    select (chat_private.message_row(msg)).*
    from chat_private.messages msg
    where msg.conversation_id = list_messages.conversation_id and msg.seq > v_after and msg.seq < v_before
    order by msg.seq desc
    limit "limit";
  end if;
end
$$;
comment on function chat.list_messages(text, bigint, bigint, bigint, integer) is
  'A page of a conversation''s messages, newest first. Without before_seq/after_seq: the latest messages. '
  'before_seq: the `limit` messages just before it (page back with the smallest seq you have). '
  'after_seq: the `limit` messages just after it (catch up with the largest seq you have). limit 1 to 200 '
  '(default 50). Never shows what you deleted, or what was sent before you joined or after you left. '
  'Errors: MCLIM, MCNCV, MCNMB.';
