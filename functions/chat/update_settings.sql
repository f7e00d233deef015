create or replace function chat.update_settings(
  actor text,
  share_read_receipts boolean default null,
  share_presence boolean default null
)
returns chat.user_profile
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_before chat_private.users;
  v_after chat_private.users;
begin
  actor := chat_private.nfc(actor);
  v_before := chat_private.require_user(actor);
  update chat_private.users u
  set share_read_receipts = coalesce(update_settings.share_read_receipts, u.share_read_receipts),
      share_presence = coalesce(update_settings.share_presence, u.share_presence),
      updated_at = case
        when (update_settings.share_read_receipts, update_settings.share_presence)
             is distinct from (null::boolean, null::boolean) then now() else u.updated_at end
  where u.user_id = actor
  returning * into v_after;
  -- Peers who saw this user online (or will now) hear of the change at once.
  if v_after.share_presence is distinct from v_before.share_presence
     and exists (select from chat_private.presence p where p.user_id = actor and p.online) then
    perform chat_private.emit('presence.changed',
      chat_private.presence_audience(case when v_after.share_presence then v_after else v_before end),
      jsonb_build_object('user', actor, 'online', v_after.share_presence, 'last_seen_at', null));
  end if;
  return chat_private.profile(v_after);
end
$$;
comment on function chat.update_settings(text, boolean, boolean) is
  'Your privacy settings; a null argument leaves that one unchanged. share_read_receipts false: your '
  'reads reach only your own devices and you appear in no one''s list_read_positions. share_presence '
  'false: you are always offline to others, with no last_seen_at. Both are mutual: not sharing also '
  'hides the others'' receipts, or presence, from you. Returns your profile with the settings. '
  'Errors: MCUNU.';
