-- A JSON document with a user erased from it (chat_admin.erase_user): every string equal to their id,
-- and every key, becomes the pseudonym, and a message object they sent loses its body, attachments
-- and reactions, as a tombstone. Used on the event log and pending webhook deliveries, which keep
-- copies of messages.
create or replace function chat_private.erased_json(doc jsonb, user_id text, pseudonym text)
returns jsonb
language plpgsql
immutable
as $$
declare
  v_out jsonb;
begin
  case jsonb_typeof(doc)
  when 'string' then
    return case when doc #>> '{}' = user_id then to_jsonb(pseudonym) else doc end;
  when 'array' then
    select coalesce(jsonb_agg(chat_private.erased_json(e, user_id, pseudonym) order by i), '[]')
    into v_out from jsonb_array_elements(doc) with ordinality a(e, i);
    return v_out;
  when 'object' then
    select coalesce(jsonb_object_agg(case when k = user_id then pseudonym else k end,
      chat_private.erased_json(v, user_id, pseudonym)), '{}')
    into v_out from jsonb_each(doc) o(k, v);
    if v_out ->> 'sender' = pseudonym and v_out ? 'body' then
      v_out := v_out || jsonb_build_object('body', '');
      if v_out ? 'attachments' then v_out := v_out || jsonb_build_object('attachments', '[]'::jsonb); end if;
      if v_out ? 'reactions' then v_out := v_out || jsonb_build_object('reactions', '[]'::jsonb); end if;
    end if;
    return v_out;
  else
    return doc;
  end case;
end
$$;
