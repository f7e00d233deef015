create or replace function chat.me(actor text)
returns chat.user_profile
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select chat_private.profile(chat_private.require_user(chat_private.nfc(actor)))
$$;
comment on function chat.me(text) is
  'The acting user''s profile: site user id, display name, whether a password is set, and the privacy '
  'settings (share_read_receipts, share_presence: update_settings). Errors: MCUNU.';
