-- Group commit: the server gathers the sends that arrive while a batch is in flight and applies them
-- here in one transaction, so they share one commit flush, one event lock and one NOTIFY. Each item is
-- chat.send_message itself (the only place the send rules live). A refused item rolls back alone (its
-- rate token, its attachments, its event) and the others go on: after a refusal the items are applied
-- again, each in its own subtransaction (below).
--
-- Locks, so that batches in different processes, and a batch and a plain chat.send_message, never
-- deadlock. send_message takes, in this order: the conversation's send lock
-- (chat_private.lock_conversation_for_sending) and its row, the sender's rate-limit bucket, the
-- uploads it attaches, the sender's membership row (and in a direct chat the peer's). The batch takes
-- the send locks of all its conversations first, in ascending conversation_id, then their rows in the
-- same order, then all its senders' buckets in ascending order (chat_private.lock_send_tokens), and
-- only then applies the items: so every transaction takes conversations before buckets, each kind in
-- one order, and what an item takes after that (uploads, memberships of a conversation the batch
-- holds) is held by nobody waiting for the batch. The one exception is a client attaching the same
-- uploads to two sends at once in reverse order: PostgreSQL then refuses one item with 40P01
-- (deadlock_detected), and one of the two would be MCATT anyway.

-- One item of a batch: its shape checked, then sent by chat.send_message.
create or replace function chat_private.send_batch_item(item jsonb)
returns chat.message
language plpgsql
volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_attachments text[];
begin
  if jsonb_typeof(item) <> 'object' then
    raise exception using errcode = 'MCARG', message = 'each send must be a JSON object';
  end if;
  if item ? 'recipient' then
    raise exception using errcode = 'MCARG',
      message = 'a batch sends by conversation_id only; send to a recipient with chat.send_message';
  end if;
  if item - array['actor', 'conversation_id', 'body', 'client_id', 'reply_to_seq', 'attachments'] <> '{}' then
    raise exception using errcode = 'MCARG',
      message = 'a send has only actor, conversation_id, body, client_id, reply_to_seq and attachments';
  end if;
  if jsonb_typeof(item -> 'actor') is distinct from 'string' then
    raise exception using errcode = 'MCARG', message = 'actor must be a user id';
  end if;
  if coalesce(item ->> 'conversation_id', '') !~ '^\d{1,18}$' then
    raise exception using errcode = 'MCARG', message = 'conversation_id must be a conversation id';
  end if;
  if coalesce(jsonb_typeof(item -> 'body'), 'null') not in ('string', 'null')
     or coalesce(jsonb_typeof(item -> 'client_id'), 'null') not in ('string', 'null') then
    raise exception using errcode = 'MCARG', message = 'body and client_id must be strings';
  end if;
  if coalesce(jsonb_typeof(item -> 'reply_to_seq'), 'null') <> 'null'
     and item ->> 'reply_to_seq' !~ '^\d{1,18}$' then
    raise exception using errcode = 'MCARG', message = 'reply_to_seq must be a seq';
  end if;
  if coalesce(jsonb_typeof(item -> 'attachments'), 'null') <> 'null' then
    if jsonb_typeof(item -> 'attachments') <> 'array' or exists (
      select from jsonb_array_elements(item -> 'attachments') a where jsonb_typeof(a) <> 'string'
    ) then
      raise exception using errcode = 'MCARG', message = 'attachments must be a list of attachment ids';
    end if;
    v_attachments := array(select jsonb_array_elements_text(item -> 'attachments'));
  end if;
  return chat.send_message(
    actor => item ->> 'actor',
    conversation_id => (item ->> 'conversation_id')::bigint,
    body => item ->> 'body',
    client_id => item ->> 'client_id',
    reply_to_seq => (item ->> 'reply_to_seq')::bigint,
    attachments => v_attachments
  );
end
$$;

-- Only conversation_id sends: a recipient send may have to create the direct chat, whose row does not
-- exist to be locked in order; it is refused with MCARG (send it with chat.send_message).
create or replace function chat_server.send_messages(sends jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_max integer := 1000;
  v_item jsonb;
  v_results jsonb[] := '{}';
  v_conversation_id bigint;
  v_code text;
  v_text text;
  v_hint text;
begin
  if jsonb_typeof(sends) is distinct from 'array' then
    raise exception using errcode = 'MCARG', message = 'sends must be a JSON array of sends';
  end if;
  if jsonb_array_length(sends) > v_max then
    raise exception using errcode = 'MCLIM', message = format('a batch has at most %s sends', v_max);
  end if;
  perform chat_private.apply_send_durability();

  -- Ascending conversation_id; ids that do not parse are refused by their item below.
  for v_conversation_id in
    select distinct (e ->> 'conversation_id')::bigint from jsonb_array_elements(sends) e
    where jsonb_typeof(e) = 'object' and e ->> 'conversation_id' ~ '^\d{1,18}$'
    order by 1
  loop
    perform chat_private.lock_conversation_for_sending(v_conversation_id);
  end loop;
  -- The rows too, in the same order, as other writers of several conversations do (delete_user).
  perform from chat_private.conversations c
  where c.conversation_id in (
    select (e ->> 'conversation_id')::bigint from jsonb_array_elements(sends) e
    where jsonb_typeof(e) = 'object' and e ->> 'conversation_id' ~ '^\d{1,18}$'
  )
  order by c.conversation_id
  for update;
  perform chat_private.lock_send_tokens(array(
    select chat_private.nfc(e ->> 'actor') from jsonb_array_elements(sends) e
    where jsonb_typeof(e) = 'object' and jsonb_typeof(e -> 'actor') = 'string'
  ));

  -- First all items in one subtransaction: the usual case, where none is refused. A refusal undoes
  -- them all (the locks above stay), and each is applied again in a subtransaction of its own, so that
  -- it rolls back alone. A subtransaction per item cost more than the item (psql, 100 sends: 26 ms
  -- against 9 ms for the same sends in a loop), and past 64 of them in one transaction every snapshot
  -- in the database has to look in pg_subtrans.
  begin
    for v_item in select e from jsonb_array_elements(sends) e loop
      v_results := array_append(v_results,
        jsonb_build_object('message', to_jsonb(chat_private.send_batch_item(v_item))));
    end loop;
    return to_jsonb(v_results);
  exception when others then
    v_results := '{}';
  end;
  for v_item in select e from jsonb_array_elements(sends) e loop
    begin
      v_results := array_append(v_results,
        jsonb_build_object('message', to_jsonb(chat_private.send_batch_item(v_item))));
    exception when others then
      get stacked diagnostics v_code = returned_sqlstate, v_text = message_text, v_hint = pg_exception_hint;
      v_results := array_append(v_results, jsonb_build_object('error',
        jsonb_build_object('code', v_code, 'message', v_text, 'hint', nullif(v_hint, ''))));
    end;
  end loop;
  return to_jsonb(v_results);
end
$$;
comment on function chat_server.send_messages(jsonb) is
  'Applies many sends in one transaction (the server''s group commit). sends: a JSON array of at most '
  '1000 objects {actor, conversation_id, body?, client_id?, reply_to_seq?, attachments?}, each sent as '
  'chat.send_message would, in array order (within a conversation seq follows it). Returns an array of '
  'the same length and order: {"message": <the message>} or {"error": {"code", "message", "hint"}} for a '
  'refused send, which leaves nothing behind; the others are unaffected. Sends naming a recipient '
  'instead of a conversation_id are refused (MCARG). Errors (of the whole batch): MCARG, MCLIM.';
