--! Previous: sha1:64477661e2c7195c541f8daec0af5586e57eb7a4
--! Hash: sha1:da1eecc21285b60a14fdd58a77c900b0a1936820
--! Message: chat_server.send_messages applies a batch of sends in one transaction, each in its own savepoint, conversations then send buckets locked in ascending order

--! Included chat_private/take_send_token.sql
-- The send rate limit, taken in the sending transaction itself: one statement more on an unlogged
-- table, not a second round trip, and a send that fails for another reason gives its token back by
-- rolling back. The server sets microchatter.send_rate_per_minute on its own connections
-- (MICROCHATTER_SEND_RATE_PER_MINUTE); a psql session without it sends unlimited, as DBAs and batch
-- jobs expect. The hint carries Retry-After for the HTTP layer.
create or replace function chat_private.take_send_token(actor text)
returns void
language plpgsql
volatile
as $$
declare
  v_limit integer := chat_private.setting('send_rate_per_minute', 0);
  v_verdict record;
begin
  if v_limit <= 0 then
    return;
  end if;
  select * into v_verdict from chat_server.take_rate_token('send', actor, v_limit, 60);
  if not v_verdict.taken then
    raise exception using errcode = 'MCRAT', message = 'you are sending too fast',
      hint = format('retry after %s s', v_verdict.retry_after_seconds);
  end if;
end
$$;

-- Locks the send buckets of these senders, in ascending order, creating absent ones full (a bucket
-- refilled by now is a full one), and takes nothing. chat_server.send_messages calls it before it
-- applies a batch: each send then takes its token on a row it holds already, so two batches that share
-- senders queue on the first bucket they share instead of each holding one the other wants (a deadlock).
-- Without a limit in force take_send_token locks nothing, and neither does this.
create or replace function chat_private.lock_send_tokens(actors text[])
returns void
language plpgsql
volatile
as $$
begin
  if chat_private.setting('send_rate_per_minute', 0) <= 0 then
    return;
  end if;
  insert into chat_private.rate_limits as r (bucket, key, refilled_at)
  select 'send', a, clock_timestamp() from (select distinct a from unnest(actors) a where a is not null) x
  order by a collate "C"
  on conflict (bucket, key) do update set refilled_at = r.refilled_at;
end
$$;
--! EndIncluded chat_private/take_send_token.sql
--! Included chat_server/send_messages.sql
-- Group commit: the server gathers the sends that arrive while a batch is in flight and applies them
-- here in one transaction, so they share one commit flush, one event lock and one NOTIFY. Each item is
-- chat.send_message itself (the only place the send rules live), in its own subtransaction: a refused
-- item rolls back alone (its rate token, its attachments, its event) and the others go on.
--
-- Locks, so that batches in different processes, and a batch and a plain chat.send_message, never
-- deadlock. send_message takes, in this order: the conversation row, the sender's rate-limit bucket,
-- the uploads it attaches, the members' rows of that conversation. The batch takes all its
-- conversations first, in ascending conversation_id, then all its senders' buckets in ascending order
-- (chat_private.lock_send_tokens), and only then applies the items: so every transaction takes
-- conversations before buckets, each kind in one order, and what an item takes after that (uploads,
-- memberships of a conversation the batch holds) is held by nobody waiting for the batch. The one
-- exception is a client attaching the same uploads to two sends at once in reverse order: PostgreSQL
-- then refuses one item with 40P01 (deadlock_detected), and one of the two would be MCATT anyway.
--
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

  -- Ascending conversation_id; ids that do not parse are refused by their item below.
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
