-- Moderation rules shared by the writing functions: suspension, the site's policy hook, tombstones.

-- A suspended user can read and receive, but not send, edit, react, create groups or add members.
create or replace function chat_private.suspended(u chat_private.users)
returns boolean
language sql
stable
as $$
  select u.suspended_at is not null and (u.suspended_until is null or u.suspended_until > now())
$$;

create or replace function chat_private.require_not_suspended(u chat_private.users)
returns void
language plpgsql
stable
as $$
begin
  if chat_private.suspended(u) then
    raise exception using errcode = 'MCSUS',
      message = case when u.suspended_until is null then 'your account is suspended'
        else format('your account is suspended until %s', u.suspended_until) end;
  end if;
end
$$;

create or replace function chat_private.require_not_suspended(actor text)
returns void
language plpgsql
stable
as $$
declare
  v_user chat_private.users;
begin
  select * into v_user from chat_private.users u where u.user_id = actor;
  if found then
    perform chat_private.require_not_suspended(v_user);
  end if;
end
$$;

-- The body after the site's hook (chat_policy.before_send). Our own refusals pass through as raised;
-- anything else the hook raises (a bug in it, a missing table) is answered as MCMOD, never a 500, and
-- logged in PostgreSQL's log with what it was. The result is checked like any body.
create or replace function chat_private.policy_body(actor text, conversation_id bigint, body text, has_attachments boolean)
returns text
language plpgsql
volatile
as $$
declare
  v_body text;
  v_state text;
  v_message text;
begin
  begin
    v_body := chat_policy.before_send(actor, conversation_id, body);
  exception when others then
    get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
    if v_state like 'MC___' then
      raise;
    end if;
    raise warning 'chat_policy.before_send failed with % (%): answered as MCMOD', v_state, v_message;
    raise exception using errcode = 'MCMOD', message = 'the message was refused by the site''s policy';
  end;
  if v_body is null then
    raise exception using errcode = 'MCMOD', message = 'the message was refused by the site''s policy';
  end if;
  return chat_private.checked_body(v_body, has_attachments);
end
$$;

-- Turns a message into the tombstone delete_message leaves: same seq, sender and times; its body,
-- reactions, attachments (bytes too), search entry and edit history are gone.
create or replace function chat_private.tombstone(msg chat_private.messages)
returns chat_private.messages
language plpgsql
volatile
as $$
declare
  v_message chat_private.messages;
begin
  delete from chat_private.message_edits e where e.message_id = msg.message_id;
  delete from chat_private.attachments a where a.conversation_id = msg.conversation_id and a.seq = msg.seq;
  update chat_private.messages m
  set body = '', reactions = '[]', attachments = '[]', search = null, deleted_at = coalesce(m.deleted_at, now())
  where m.conversation_id = msg.conversation_id and m.seq = msg.seq
  returning * into v_message;
  return v_message;
end
$$;
