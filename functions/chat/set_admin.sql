create or replace function chat.set_admin(actor text, conversation_id bigint, "user" text, admin boolean default true)
returns chat.conversation
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation chat_private.conversations := chat_private.conversation(set_admin.conversation_id, true);
  v_membership chat_private.memberships := chat_private.membership(chat_private.nfc(actor), set_admin.conversation_id, true);
begin
  actor := chat_private.nfc(actor);
  "user" := chat_private.nfc("user");
  if v_conversation.kind <> 'group' then
    raise exception using errcode = 'MCKND', message = 'this is a direct conversation, not a group';
  end if;
  if actor is distinct from v_conversation.owner then
    raise exception using errcode = 'MCFRB', message = 'only the group''s owner may name admins';
  end if;
  if not "user" = any(v_conversation.members) then
    raise exception using errcode = 'MCNMB',
      message = format('%s is not a member of conversation %s', "user", set_admin.conversation_id);
  end if;
  if "user" = v_conversation.owner then
    raise exception using errcode = 'MCFRB', message = 'the owner is always an admin';
  end if;
  update chat_private.conversations c
  set admins = case when coalesce(set_admin.admin, true)
                 then case when "user" = any(c.admins) then c.admins else c.admins || "user" end
                 else array_remove(c.admins, "user") end
  where c.conversation_id = set_admin.conversation_id
  returning * into v_conversation;
  return chat_private.conversation_row(v_conversation, v_membership);
end
$$;
comment on function chat.set_admin(text, bigint, text, boolean) is
  'Makes a member an admin of a group, or with admin = false an ordinary member again (owner only). '
  'Errors: MCNCV, MCNMB, MCKND, MCFRB.';
