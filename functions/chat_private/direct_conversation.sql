-- The direct conversation between two users, created on the first message. The sorted pair is
-- unique, so when many first messages race, one insert wins and the others wait for it and find it.
create or replace function chat_private.direct_conversation(actor text, recipient text)
returns bigint
language plpgsql
volatile
as $$
declare
  v_pair text[] := array[least(actor collate "C", recipient collate "C"), greatest(actor collate "C", recipient collate "C")];
  v_conversation_id bigint;
begin
  select c.conversation_id into v_conversation_id from chat_private.conversations c where c.direct_pair = v_pair;
  if found then
    return v_conversation_id;
  end if;
  if actor = recipient then
    raise exception using errcode = 'MCSLF', message = 'you cannot send a message to yourself';
  end if;
  perform chat_private.require_user(recipient);

  insert into chat_private.conversations (kind, members, direct_pair)
  values ('direct', v_pair, v_pair)
  on conflict (direct_pair) do nothing
  returning conversation_id into v_conversation_id;

  if v_conversation_id is null then
    -- Another transaction created it first; it has committed by now.
    select c.conversation_id into v_conversation_id from chat_private.conversations c where c.direct_pair = v_pair;
  else
    insert into chat_private.memberships (conversation_id, user_id)
    select v_conversation_id, unnest(v_pair);
  end if;
  return v_conversation_id;
end
$$;
