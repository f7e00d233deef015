-- The site's policy hook, shipped as a no-op. A site replaces it with its own rules:
--
--   create or replace function chat_policy.before_send(actor text, conversation_id bigint, body text)
--   returns text language plpgsql as $$ … $$;
--
-- (docs/moderation.md has a word filter). It returns the body to store, possibly rewritten, or raises
-- MCMOD to refuse the message. It is called by send_message and edit_message, in their transaction.
-- Migrations create it only when it does not exist, so a site's own version survives upgrades: this
-- file is included inside a DO block that checks pg_proc first.
create function chat_policy.before_send(actor text, conversation_id bigint, body text)
returns text
language sql
stable
as $fn$
  select body
$fn$;
comment on function chat_policy.before_send(text, bigint, text) is
  'The site''s policy hook for sends and edits: returns the body to store (possibly rewritten) or raises '
  'MCMOD. Ships as a no-op; replace it with create or replace (docs/moderation.md).';
