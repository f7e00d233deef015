--! Previous: sha1:a198a26968bdd96f6c625e26ea0ffd099e2dd586
--! Hash: sha1:9efe0caa7b294713a95cc87961d218429fa7fc97
--! Message: row type columns declare non-null and closed sets in their comments

-- The row types' columns declare what the API promises: which are never null and which take a closed set
-- of values (`kind`, from the CHECK constraint of chat_private.conversations.kind). Comments only.
--! Included chat/type_columns.sql
-- What the row types' columns promise. A row type cannot say NOT NULL, so each column's comment says
-- it, in lines of its own: `@notNull` (never null) and `@check schema.table.column` (one of the values
-- that column's CHECK constraint allows: the constraint is the list). The rest of the comment is the
-- column's description. server/catalog.ts reads them for /openapi.json and the SDK's generated types.
-- types.sql drops the types with their comments: a migration that includes it includes this file after.
comment on column chat.message.id is E'@notNull';
comment on column chat.message.conversation_id is E'@notNull';
comment on column chat.message.seq is E'@notNull\nPosition in the conversation: 1, 2, 3… in send order.';
comment on column chat.message.sender is E'@notNull\nThe sender''s user id.';
comment on column chat.message.body is E'@notNull\nThe text; empty for a tombstone or a message of attachments only.';
comment on column chat.message.client_id is 'The sender''s idempotency key, if they gave one.';
comment on column chat.message.sent_at is E'@notNull';
comment on column chat.message.edited_at is 'When the body was last edited; null if never.';
comment on column chat.message.deleted_at is 'When the message was deleted for everyone; null if not.';
comment on column chat.message.reply_to_seq is 'The seq of the message this one quotes; null if none.';
comment on column chat.message.reactions is E'@notNull\n[{emoji, count, users}], in first-reaction order.';
comment on column chat.message.attachments is E'@notNull\n[{attachment_id, name, content_type, size}].';

comment on column chat.found_message.id is E'@notNull';
comment on column chat.found_message.conversation_id is E'@notNull';
comment on column chat.found_message.seq is E'@notNull';
comment on column chat.found_message.sender is E'@notNull';
comment on column chat.found_message.body is E'@notNull';
comment on column chat.found_message.sent_at is E'@notNull';
comment on column chat.found_message.reactions is E'@notNull';
comment on column chat.found_message.attachments is E'@notNull';
comment on column chat.found_message.snippet is E'@notNull\nAn HTML fragment (the text escaped) with the matches in <mark></mark>.';

comment on column chat.conversation.conversation_id is E'@notNull';
comment on column chat.conversation.kind is E'@notNull\n@check chat_private.conversations.kind';
comment on column chat.conversation.title is 'A group''s title, or a direct chat''s peer''s display name.';
comment on column chat.conversation.peer is 'The other user of a direct chat; null for a group.';
comment on column chat.conversation.members is E'@notNull';
comment on column chat.conversation.owner is 'The group''s owner; null for a direct chat.';
comment on column chat.conversation.admins is E'@notNull';
comment on column chat.conversation.last_message is 'The latest message this member may see; null if none.';
comment on column chat.conversation.unread is E'@notNull';
comment on column chat.conversation.read_seq is E'@notNull';
comment on column chat.conversation.last_seq is E'@notNull';
comment on column chat.conversation.muted is E'@notNull';
comment on column chat.conversation.is_member is E'@notNull';
comment on column chat.conversation.last_activity_at is E'@notNull';
comment on column chat.conversation.created_at is E'@notNull';
comment on column chat.conversation.cursor is E'@notNull\nPass as `before` for the next inbox page.';

comment on column chat.user_profile.user_id is E'@notNull';
comment on column chat.user_profile.has_password is E'@notNull';
comment on column chat.user_profile.created_at is E'@notNull';
comment on column chat.user_profile.updated_at is E'@notNull';
comment on column chat.user_profile.share_read_receipts is E'@notNull';
comment on column chat.user_profile.share_presence is E'@notNull';
--! EndIncluded chat/type_columns.sql
