-- The shapes the API returns. Dropped and recreated with everything that uses them, which the
-- migration recreates right after, and with their columns' comments (chat/type_columns.sql: include it
-- after this file).
drop type if exists chat.message cascade;
create type chat.message as (
  id bigint,
  conversation_id bigint,
  seq bigint,
  sender text,
  body text,
  client_id text,
  sent_at timestamptz,
  edited_at timestamptz,
  deleted_at timestamptz,
  reply_to_seq bigint,
  reactions jsonb,
  attachments jsonb
);
comment on type chat.message is
  'One message. seq numbers a conversation''s messages 1, 2, 3… in send order, without gaps. A deleted '
  'message stays as a tombstone: deleted_at set, body empty, no reactions or attachments. reactions: '
  '[{emoji, count, users}]; attachments: [{attachment_id, name, content_type, size}].';

drop type if exists chat.found_message cascade;
create type chat.found_message as (
  id bigint,
  conversation_id bigint,
  seq bigint,
  sender text,
  body text,
  client_id text,
  sent_at timestamptz,
  edited_at timestamptz,
  deleted_at timestamptz,
  reply_to_seq bigint,
  reactions jsonb,
  attachments jsonb,
  snippet text
);
comment on type chat.found_message is
  'A search result: the message and a snippet of its body, an HTML fragment (the text escaped) with the '
  'matches in <mark></mark>.';

drop type if exists chat.conversation cascade;
create type chat.conversation as (
  conversation_id bigint,
  kind text,
  title text,
  peer text,
  members text[],
  owner text,
  admins text[],
  last_message jsonb,
  unread bigint,
  read_seq bigint,
  last_seq bigint,
  muted boolean,
  is_member boolean,
  last_activity_at timestamptz,
  created_at timestamptz,
  cursor text
);
comment on type chat.conversation is
  'A conversation as one member sees it. kind is direct or group; for a direct chat, peer is the other '
  'user and title their display name. last_message and unread count only what this member may see; '
  'cursor is the value to pass as `before` for the next inbox page.';

drop type if exists chat.user_profile cascade;
create type chat.user_profile as (
  user_id text,
  display_name text,
  has_password boolean,
  created_at timestamptz,
  updated_at timestamptz,
  share_read_receipts boolean,
  share_presence boolean
);
comment on type chat.user_profile is 'A user as mirrored from the site: the site''s user id and a display name.';
