--! Previous: sha1:77456d13558e2cac6110a733566e6c0a25a9da87
--! Hash: sha1:566b7a4a58282e3cf5991f0ef9ef3c8233b28b5c
--! Message: attachment store: uploads in bytea chunks, for the server to stream

-- Attachments: uploads stored in PostgreSQL as bytea chunks, so the embedded default needs nothing else,
-- the server streams them in and out a chunk at a time without large-object privileges, and deleting
-- the row deletes the bytes (no orphaned large objects to vacuum with vacuumlo).
create table if not exists chat_private.attachments (
  attachment_id uuid primary key default gen_random_uuid(),
  uploader text not null,
  name text not null,
  content_type text not null,
  -- Set when the upload is finished: the sum of its chunks.
  size bigint,
  complete boolean not null default false,
  -- The message it was attached to; null while it is an unattached upload.
  conversation_id bigint,
  seq bigint,
  created_at timestamptz not null default now()
);
-- Deleting a message deletes its attachments; pruning looks for old unattached uploads.
create index if not exists attachments_message_idx on chat_private.attachments (conversation_id, seq)
  where conversation_id is not null;
create index if not exists attachments_unattached_idx on chat_private.attachments (created_at)
  where conversation_id is null;

create table if not exists chat_private.attachment_chunks (
  attachment_id uuid references chat_private.attachments on delete cascade,
  chunk integer,
  data bytea not null,
  primary key (attachment_id, chunk)
);
-- Out of line without pglz: no compression pass over every chunk on the way in and out (many uploads
-- are compressed already), so streaming stays cheap.
alter table chat_private.attachment_chunks alter column data set storage external;

--! Included chat_private/attachment_rules.sql
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
--! EndIncluded chat_private/attachment_rules.sql
--! Included chat_server/begin_attachment.sql
create or replace function chat_server.begin_attachment(uploader text, name text, content_type text)
returns uuid
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_attachment_id uuid;
begin
  uploader := chat_private.nfc(uploader);
  perform chat_private.require_user(uploader);
  insert into chat_private.attachments (uploader, name, content_type)
  values (uploader, chat_private.checked_attachment_name(begin_attachment.name),
          chat_private.checked_content_type(begin_attachment.content_type))
  returning attachment_id into v_attachment_id;
  return v_attachment_id;
end
$$;
comment on function chat_server.begin_attachment(text, text, text) is
  'Starts an upload by the user: returns the new attachment''s id, to which the server appends the bytes in '
  'chunks (append_attachment_chunk) and then finishes it (finish_attachment). name: 1 to 255 bytes, no '
  '"/", "\\" or control characters. content_type: a MIME type, else application/octet-stream. '
  'Errors: MCUNU, MCANM.';
--! EndIncluded chat_server/begin_attachment.sql
--! Included chat_server/append_attachment_chunk.sql
create or replace function chat_server.append_attachment_chunk(attachment_id uuid, chunk integer, data bytea)
returns void
language plpgsql
volatile
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
begin
  -- A share lock: chunks may arrive on several connections, but finish_attachment waits for them.
  perform from chat_private.attachments a
  where a.attachment_id = append_attachment_chunk.attachment_id and not a.complete
  for share;
  if not found then
    raise exception using errcode = 'MCATT', message = 'no such upload in progress';
  end if;
  if chunk < 0 then
    raise exception using errcode = 'MCARG', message = 'chunk must not be negative';
  end if;
  -- Writing a chunk again replaces it, so a retried write is harmless.
  insert into chat_private.attachment_chunks as ch (attachment_id, chunk, data)
  values (append_attachment_chunk.attachment_id, chunk, data)
  on conflict (attachment_id, chunk) do update set data = excluded.data;
end
$$;
comment on function chat_server.append_attachment_chunk(uuid, integer, bytea) is
  'Stores chunk number `chunk` (0, 1, 2…) of an upload that is not finished yet; the server writes at '
  'most 256 KiB per chunk. Errors: MCATT, MCARG.';
--! EndIncluded chat_server/append_attachment_chunk.sql
--! Included chat_server/finish_attachment.sql
create or replace function chat_server.finish_attachment(attachment_id uuid)
returns jsonb
language plpgsql
volatile
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_attachment chat_private.attachments;
begin
  select * into v_attachment from chat_private.attachments a
  where a.attachment_id = finish_attachment.attachment_id and not a.complete
  for update;
  if not found then
    raise exception using errcode = 'MCATT', message = 'no such upload in progress';
  end if;
  select coalesce(sum(octet_length(ch.data)), 0) into v_attachment.size
  from chat_private.attachment_chunks ch where ch.attachment_id = finish_attachment.attachment_id;
  if v_attachment.size = 0 then
    -- The refusal undoes this statement's writes, so the empty row cannot be deleted here: it stays
    -- unfinished, for abandon_attachment or, within a day, prune_attachments.
    raise exception using errcode = 'MCAEM', message = 'the file is empty';
  end if;
  update chat_private.attachments a set size = v_attachment.size, complete = true
  where a.attachment_id = finish_attachment.attachment_id;
  return chat_private.attachment_json(v_attachment);
end
$$;
comment on function chat_server.finish_attachment(uuid) is
  'Completes an upload: returns {attachment_id, name, content_type, size}, size being the sum of its '
  'chunks. From now on the uploader may attach it to a message (send_message''s attachments). An empty '
  'upload is refused (call abandon_attachment then). Errors: MCATT, MCAEM.';
--! EndIncluded chat_server/finish_attachment.sql
--! Included chat_server/abandon_attachment.sql
create or replace function chat_server.abandon_attachment(attachment_id uuid)
returns void
language sql
volatile
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
  delete from chat_private.attachments a
  where a.attachment_id = abandon_attachment.attachment_id and not a.complete
$$;
comment on function chat_server.abandon_attachment(uuid) is
  'Deletes an upload that was not finished (too large, aborted, empty) with its chunks. Nothing happens '
  'when there is no such unfinished upload.';
--! EndIncluded chat_server/abandon_attachment.sql
--! Included chat_server/attachment_for_reader.sql
create or replace function chat_server.attachment_for_reader(reader text, attachment_id uuid)
returns table (name text, content_type text, size bigint, chunks integer)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  -- The uploader, or a member who can see the message now, by list_messages' rule: after their
  -- deletion point (or joining), not after they left.
  select a.name, a.content_type, a.size,
    (select count(*)::integer from chat_private.attachment_chunks ch where ch.attachment_id = a.attachment_id)
  from chat_private.attachments a
  where a.attachment_id = attachment_for_reader.attachment_id
    and a.complete
    and (
      a.uploader = chat_private.nfc(reader)
      or exists (
        select from chat_private.messages msg
        join chat_private.conversations c on c.conversation_id = msg.conversation_id
        join chat_private.memberships m on m.conversation_id = msg.conversation_id
        where msg.conversation_id = a.conversation_id and msg.seq = a.seq
          and m.user_id = chat_private.nfc(reader)
          and msg.seq > m.cleared_seq
          and msg.seq <= chat_private.visible_seq(c, m)
      )
    )
$$;
comment on function chat_server.attachment_for_reader(text, uuid) is
  'The attachment''s name, content type, size and number of chunks, when the reader may download it: they '
  'uploaded it, or it is on a message they can see (as in list_messages). No row otherwise, which the '
  'server answers 404 whether or not the attachment exists.';
--! EndIncluded chat_server/attachment_for_reader.sql
--! Included chat_server/read_attachment_chunk.sql
create or replace function chat_server.read_attachment_chunk(attachment_id uuid, chunk integer)
returns bytea
language sql
stable
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
  select ch.data from chat_private.attachment_chunks ch
  where ch.attachment_id = read_attachment_chunk.attachment_id and ch.chunk = read_attachment_chunk.chunk
$$;
comment on function chat_server.read_attachment_chunk(uuid, integer) is
  'The bytes of chunk number `chunk` of an attachment (null when there is no such chunk). The server '
  'checks attachment_for_reader first.';
--! EndIncluded chat_server/read_attachment_chunk.sql
--! Included chat_server/prune_attachments.sql
create or replace function chat_server.prune_attachments(older_than interval default '24 hours')
returns integer
language plpgsql
volatile
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_deleted integer;
begin
  delete from chat_private.attachments a where a.conversation_id is null and a.created_at < now() - older_than;
  get diagnostics v_deleted = row_count;
  return v_deleted;
end
$$;
comment on function chat_server.prune_attachments(interval) is
  'Deletes uploads never attached to a message (finished or not) that are older than older_than '
  '(default 24 hours), with their bytes; returns how many. The server calls it hourly.';
--! EndIncluded chat_server/prune_attachments.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
