--! Previous: sha1:6787639445fe0a76d516ea955e5ca29b9f4890ab
--! Hash: sha1:572c3b8b55ce388922c5032f027573a0da5068bf
--! Message: microchatter.send_synchronous_commit = off lets sends skip waiting for their commit flush, opt-in

--! Included chat_private/send_durability.sql
-- Sends may opt out of waiting for their commit's WAL flush: with microchatter.send_synchronous_commit
-- = off (a database, role or session setting, which the server may set on its connections),
-- chat.send_message and chat_server.send_messages set synchronous_commit = off for their own
-- transaction. The trade: a send is acknowledged before its commit is on disk, so a crash of the
-- database server (not of the application) can lose the sends of the last moments before it, up to
-- about three times wal_writer_delay (600 ms by default), though they were answered as sent. The
-- database is never corrupted or inconsistent by it: a lost send is lost whole, with its events, and
-- seq stays gap-free. Never the default; any value but off keeps sends durable.
create or replace function chat_private.apply_send_durability()
returns void
language plpgsql
volatile
as $$
begin
  if current_setting('microchatter.send_synchronous_commit', true) = 'off' then
    perform set_config('synchronous_commit', 'off', true);
  end if;
end
$$;
--! EndIncluded chat_private/send_durability.sql
--! Included chat/send_message.sql
create or replace function chat.send_message(
  actor text,
  recipient text default null,
  conversation_id bigint default null,
  body text default null,
  client_id text default null,
  reply_to_seq bigint default null,
  attachments text[] default null
)
returns chat.message
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation_id bigint := send_message.conversation_id;
  v_conversation chat_private.conversations;
  v_sender chat_private.users;
  v_membership chat_private.memberships;
  v_message chat_private.messages;
  v_answered chat_private.messages;
begin
  perform chat_private.apply_send_durability();
  actor := chat_private.nfc(actor);
  recipient := chat_private.nfc(recipient);
  send_message.body := chat_private.checked_body(send_message.body, cardinality(attachments) > 0);
  if length(send_message.client_id) > 200 then
    raise exception using errcode = 'MCARG', message = 'client_id must be at most 200 characters';
  end if;
  if (recipient is null) = (v_conversation_id is null) then
    raise exception using errcode = 'MCARG', message = 'give either recipient or conversation_id';
  end if;
  v_sender := chat_private.require_user(actor);
  perform chat_private.require_not_suspended(v_sender);
  if recipient is not null then
    v_conversation_id := chat_private.direct_conversation(actor, recipient);
  end if;

  -- Senders queue on the conversation's send lock, then take its row: the lock order of
  -- chat_server.send_messages (conversations, then rate-limit buckets), so batches and single sends
  -- never deadlock.
  perform chat_private.lock_conversation_for_sending(v_conversation_id);
  v_conversation := chat_private.conversation(v_conversation_id, true);
  v_membership := chat_private.membership(actor, v_conversation_id, true);
  perform chat_private.require_not_blocked(v_conversation, v_sender);

  -- A retry with the same client_id returns the message it already created.
  if send_message.client_id is not null then
    select * into v_message from chat_private.messages msg
    where msg.conversation_id = v_conversation_id and msg.sender = actor and msg.client_id = send_message.client_id;
    if found then
      return chat_private.message_row(v_message);
    end if;
  end if;

  -- A quote reply answers a message the sender can see; not a deleted one.
  if reply_to_seq is not null then
    v_answered := chat_private.visible_message(v_conversation, v_membership, reply_to_seq, false);
    perform chat_private.require_not_deleted(v_answered);
  end if;

  send_message.body := chat_private.policy_body(actor, v_conversation_id, send_message.body, cardinality(attachments) > 0);
  perform chat_private.take_send_token(actor);

  update chat_private.conversations c set last_seq = c.last_seq + 1, last_activity_at = now()
  where c.conversation_id = v_conversation_id
  returning * into v_conversation;

  insert into chat_private.messages (conversation_id, seq, sender, body, client_id, reply_to_seq, attachments, search)
  values (v_conversation_id, v_conversation.last_seq, actor, send_message.body, send_message.client_id, reply_to_seq,
          case when cardinality(attachments) > 0
            then chat_private.attach(actor, attachments, v_conversation_id, v_conversation.last_seq) else '[]' end,
          chat_private.search_vector(send_message.body))
  returning * into v_message;

  -- The sender has read their own message. A group's members see the new activity on the conversation
  -- row (chat_private.activity_at and chat_private.hidden): one row per send, not one per member. A
  -- direct chat's two members keep it on their own rows, where the inbox index finds it, and a
  -- deleted direct chat comes back.
  if v_conversation.kind = 'direct' then
    update chat_private.memberships m
    set last_activity_at = v_conversation.last_activity_at,
        hidden = false,
        read_seq = case when m.user_id = actor then v_message.seq else m.read_seq end,
        read_at = case when m.user_id = actor then v_message.sent_at else m.read_at end
    where m.conversation_id = v_conversation_id and m.left_seq is null;
  else
    update chat_private.memberships m
    set read_seq = v_message.seq, read_at = v_message.sent_at
    where m.conversation_id = v_conversation_id and m.user_id = actor;
  end if;

  return chat_private.message_row(v_message);
end
$$;
comment on function chat.send_message(text, text, bigint, text, text, bigint, text[]) is
  'Sends a message, to a user (recipient: starts or continues your direct chat with them) or into a '
  'conversation you are a member of (conversation_id). Give exactly one of the two. body: 1 to 4000 '
  'characters (microchatter.max_body_length); may be empty when the message has attachments. client_id: '
  'your own id for the message; sending again with the same client_id returns the first message instead '
  'of storing a second. reply_to_seq: the seq of a message of this conversation you can see that this one '
  'answers (a quote reply). attachments: up to 10 ids of your own finished uploads (POST /attachments) not '
  'attached to anything yet; they are attached in the same transaction, or nothing is stored. Returns the '
  'message. Sessions that set microchatter.send_rate_per_minute (the server does) may send that many per '
  'minute per user; with microchatter.send_synchronous_commit = off the send does not wait for its commit '
  'to reach the disk (docs/sql-api.md). Errors: MCEMB, MCLNG, MCARG, MCUNU, MCSLF, MCNCV, MCNMB, MCBLK, MCNMS, MCDEL, MCATT, '
  'MCLIM, MCRAT, MCSUS, MCMOD.';
--! EndIncluded chat/send_message.sql
--! Included chat_server/send_messages.sql
-- Group commit: the server gathers the sends that arrive while a batch is in flight and applies them
-- here in one transaction, so they share one commit flush, one event lock and one NOTIFY. Each item is
-- chat.send_message itself (the only place the send rules live), in its own subtransaction: a refused
-- item rolls back alone (its rate token, its attachments, its event) and the others go on.
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
  v_results jsonb := '[]';
  v_conversation_id bigint;
  v_attachments text[];
  v_message chat.message;
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

  for v_item in select e from jsonb_array_elements(sends) e loop
    begin
      if jsonb_typeof(v_item) <> 'object' then
        raise exception using errcode = 'MCARG', message = 'each send must be a JSON object';
      end if;
      if v_item ? 'recipient' then
        raise exception using errcode = 'MCARG',
          message = 'a batch sends by conversation_id only; send to a recipient with chat.send_message';
      end if;
      if exists (select from jsonb_object_keys(v_item) k
                 where k not in ('actor', 'conversation_id', 'body', 'client_id', 'reply_to_seq', 'attachments')) then
        raise exception using errcode = 'MCARG',
          message = 'a send has only actor, conversation_id, body, client_id, reply_to_seq and attachments';
      end if;
      if jsonb_typeof(v_item -> 'actor') is distinct from 'string' then
        raise exception using errcode = 'MCARG', message = 'actor must be a user id';
      end if;
      if coalesce(v_item ->> 'conversation_id', '') !~ '^\d{1,18}$' then
        raise exception using errcode = 'MCARG', message = 'conversation_id must be a conversation id';
      end if;
      v_conversation_id := (v_item ->> 'conversation_id')::bigint;
      if coalesce(jsonb_typeof(v_item -> 'body'), 'null') not in ('string', 'null')
         or coalesce(jsonb_typeof(v_item -> 'client_id'), 'null') not in ('string', 'null') then
        raise exception using errcode = 'MCARG', message = 'body and client_id must be strings';
      end if;
      if coalesce(jsonb_typeof(v_item -> 'reply_to_seq'), 'null') <> 'null'
         and v_item ->> 'reply_to_seq' !~ '^\d{1,18}$' then
        raise exception using errcode = 'MCARG', message = 'reply_to_seq must be a seq';
      end if;
      v_attachments := null;
      if coalesce(jsonb_typeof(v_item -> 'attachments'), 'null') <> 'null' then
        if jsonb_typeof(v_item -> 'attachments') <> 'array' or exists (
          select from jsonb_array_elements(v_item -> 'attachments') a where jsonb_typeof(a) <> 'string'
        ) then
          raise exception using errcode = 'MCARG', message = 'attachments must be a list of attachment ids';
        end if;
        v_attachments := array(select jsonb_array_elements_text(v_item -> 'attachments'));
      end if;

      v_message := chat.send_message(
        actor => v_item ->> 'actor',
        conversation_id => v_conversation_id,
        body => v_item ->> 'body',
        client_id => v_item ->> 'client_id',
        reply_to_seq => (v_item ->> 'reply_to_seq')::bigint,
        attachments => v_attachments
      );
      v_results := v_results || jsonb_build_array(jsonb_build_object('message', to_jsonb(v_message)));
    exception when others then
      get stacked diagnostics v_code = returned_sqlstate, v_text = message_text, v_hint = pg_exception_hint;
      v_results := v_results || jsonb_build_array(jsonb_build_object('error',
        jsonb_build_object('code', v_code, 'message', v_text, 'hint', nullif(v_hint, ''))));
    end;
  end loop;
  return v_results;
end
$$;
comment on function chat_server.send_messages(jsonb) is
  'Applies many sends in one transaction (the server''s group commit). sends: a JSON array of at most '
  '1000 objects {actor, conversation_id, body?, client_id?, reply_to_seq?, attachments?}, each sent as '
  'chat.send_message would, in array order (within a conversation seq follows it). Returns an array of '
  'the same length and order: {"message": <the message>} or {"error": {"code", "message", "hint"}} for a '
  'refused send, which leaves nothing behind; the others are unaffected. Sends naming a recipient '
  'instead of a conversation_id are refused (MCARG). Errors (of the whole batch): MCARG, MCLIM.';
--! EndIncluded chat_server/send_messages.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
