-- An attachment's file name as given: 1 to 255 bytes, not blank, no path separators or control
-- characters (NUL cannot occur in text), and not "." or "..". It is shown to people and offered as the
-- download's file name, so anything a file system or a header could read as a path is refused.
create or replace function chat_private.checked_attachment_name(name text)
returns text
language plpgsql
immutable
as $$
begin
  if name is null or octet_length(name) not between 1 and 255 or name !~ '\S' or name ~ '[/\\[:cntrl:]]'
     or name in ('.', '..') then
    raise exception using errcode = 'MCANM',
      message = 'name must be 1 to 255 bytes without path separators or control characters';
  end if;
  return name;
end
$$;

-- A MIME type as type/subtype with optional parameters, at most 127 characters; anything else (absent,
-- malformed) becomes application/octet-stream. Never refused: browsers send odd types for ordinary files.
create or replace function chat_private.checked_content_type(content_type text)
returns text
language sql
immutable
as $$
  select case
    when length(btrim(content_type)) <= 127
     and btrim(content_type) ~ ('^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*'
                                 '( *; *[A-Za-z0-9!#$&^_.+-]+=([A-Za-z0-9!#$&^_.+-]+|"[^"\\[:cntrl:]]*"))*$')
      then btrim(content_type)
    else 'application/octet-stream'
  end
$$;

-- An attachment as the message object lists it.
create or replace function chat_private.attachment_json(a chat_private.attachments)
returns jsonb
language sql
immutable
as $$
  select jsonb_build_object('attachment_id', a.attachment_id, 'name', a.name, 'content_type', a.content_type,
    'size', a.size)
$$;

-- Attaches the actor's uploads to the new message (conversation_id, seq) and returns the message's
-- attachment list, in the order given. Each id must be the actor's own finished upload not yet attached
-- (MCATT otherwise, and the refusal undoes the whole send); a duplicate id counts once; at most 10 (MCLIM).
create or replace function chat_private.attach(actor text, ids text[], conversation_id bigint, seq bigint)
returns jsonb
language plpgsql
volatile
as $$
#variable_conflict use_column
declare
  v_ids uuid[];
  v_list jsonb;
begin
  if ids is null or cardinality(ids) = 0 then
    return '[]';
  end if;
  if cardinality(ids) > 10 then
    raise exception using errcode = 'MCLIM', message = 'a message has at most 10 attachments';
  end if;
  if exists (select from unnest(ids) i where i is null
             or i !~* '^\{?[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}\}?$') then
    raise exception using errcode = 'MCATT', message = 'no such upload of yours to attach';
  end if;
  select array_agg(x.id order by x.first) into v_ids
  from (select i::uuid as id, min(n) as first from unnest(ids) with ordinality as u(i, n) group by i::uuid) x;

  -- Locked, so two sends cannot both take one upload.
  with taken as (
    update chat_private.attachments a
    set conversation_id = attach.conversation_id, seq = attach.seq
    where a.attachment_id = any(v_ids) and a.uploader = actor and a.complete and a.conversation_id is null
    returning a.*
  )
  select jsonb_agg(chat_private.attachment_json(t) order by array_position(v_ids, t.attachment_id))
  into v_list
  from taken t;
  if coalesce(jsonb_array_length(v_list), 0) <> cardinality(v_ids) then
    raise exception using errcode = 'MCATT', message = 'no such upload of yours to attach';
  end if;
  return v_list;
end
$$;
