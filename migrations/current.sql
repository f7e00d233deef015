-- Microchatter schema, version 1.
-- Idempotent: graphile-migrate may run this file many times while it is being written.

-- Three schemas: `chat` is the API a user acts through (every function takes the acting user first),
-- `chat_admin` is for the site's backend and DBAs, `chat_private` holds the tables and helpers.
create schema if not exists chat;
create schema if not exists chat_admin;
create schema if not exists chat_private;

-- The application role: it may execute the API functions and nothing else. The functions run as
-- security definer, so the role needs no rights on the tables. Connect as a login role that is a
-- member of microchatter_app (the migrating owner is one too).
do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'microchatter_app') then
    create role microchatter_app nologin;
  end if;
end
$$;

revoke all on schema chat_private from public;
grant usage on schema chat, chat_admin to microchatter_app;

-- bcrypt for passwords. pgcrypto may already be installed in some other schema of the site's
-- database; the two functions that use it get that schema on their search_path (see below).
create extension if not exists pgcrypto;

create table if not exists chat_private.users (
  user_id text primary key check (length(user_id) between 1 and 200),
  display_name text check (length(display_name) <= 200),
  password_hash text,
  -- A small set read together: whom this user has blocked.
  blocked text[] not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table if not exists chat_private.conversations (
  conversation_id bigint generated always as identity primary key,
  kind text not null check (kind in ('direct', 'group')),
  title text check (length(title) <= 200),
  -- Current members, read together with the conversation; per-member state is in memberships.
  members text[] not null,
  owner text,
  admins text[] not null default '{}',
  -- The two members of a direct chat in sorted order; unique, so racing first messages meet here.
  direct_pair text[] unique,
  last_seq bigint not null default 0,
  last_activity_at timestamptz not null default now(),
  created_at timestamptz not null default now()
);

-- Messages are rows keyed by (conversation, seq), never a growing array: appending to an array
-- rewrites it whole (DESIGN.md: 15.7 ms per append at 10k elements).
create table if not exists chat_private.messages (
  conversation_id bigint not null references chat_private.conversations on delete cascade,
  seq bigint not null,
  message_id bigint generated always as identity unique,
  sender text not null,
  body text not null,
  client_id text check (length(client_id) <= 200),
  sent_at timestamptz not null default now(),
  primary key (conversation_id, seq)
);
create unique index if not exists messages_client_id_key
  on chat_private.messages (conversation_id, sender, client_id) where client_id is not null;

-- One row per (conversation, user who is or was a member).
create table if not exists chat_private.memberships (
  conversation_id bigint not null references chat_private.conversations on delete cascade,
  user_id text not null references chat_private.users on delete cascade,
  -- Read position: only moves forward. Unread = visible messages after it (see chat_private.unread).
  read_seq bigint not null default 0,
  -- History up to here is gone for this member (deleted the chat, or joined after it).
  cleared_seq bigint not null default 0,
  -- Set when the member left or was removed: they keep what was visible until then, nothing later.
  left_seq bigint,
  muted boolean not null default false,
  -- Deleted by this member and out of their inbox until a newer message arrives.
  hidden boolean not null default false,
  -- Copy of the conversation's activity time, so a user's inbox is one index range scan.
  last_activity_at timestamptz not null default now(),
  primary key (conversation_id, user_id)
);
create index if not exists memberships_inbox_idx
  on chat_private.memberships (user_id, last_activity_at desc, conversation_id desc);

--!include chat/types.sql
--!include chat_private/setting.sql
--!include chat_private/password.sql
--!include chat_private/users.sql
--!include chat_private/memberships.sql
--!include chat_private/conversation_row.sql
--!include chat_private/direct_conversation.sql
--!include chat_private/group_rules.sql
--!include chat/me.sql
--!include chat/send_message.sql
--!include chat/list_conversations.sql
--!include chat/get_conversation.sql
--!include chat/list_messages.sql
--!include chat/mark_read.sql
--!include chat/unread_count.sql
--!include chat/set_muted.sql
--!include chat/block_user.sql
--!include chat/unblock_user.sql
--!include chat/list_blocked.sql
--!include chat/delete_conversation.sql
--!include chat/create_group.sql
--!include chat/add_members.sql
--!include chat/remove_member.sql
--!include chat/leave_conversation.sql
--!include chat/rename_conversation.sql
--!include chat/set_admin.sql
--!include chat_admin/create_user.sql
--!include chat_admin/update_user.sql
--!include chat_admin/delete_user.sql
--!include chat_admin/import_users.sql
--!include chat_admin/check_password.sql

-- Only the application role may call the API; nobody but the owner touches chat_private.
-- The default privileges cover functions that later migrations add.
revoke all on all functions in schema chat, chat_admin, chat_private from public;
grant execute on all functions in schema chat, chat_admin to microchatter_app;
alter default privileges in schema chat, chat_admin, chat_private revoke execute on functions from public;
alter default privileges in schema chat, chat_admin grant execute on functions to microchatter_app;
