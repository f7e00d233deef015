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
