create or replace function chat_server.apply_message_retention(retention_days integer default null, batch integer default 5000)
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_days integer := coalesce(retention_days,
    nullif(current_setting('microchatter.message_retention_days', true), '')::integer, 0);
  v_ids bigint[];
begin
  if v_days <= 0 then
    return 0; -- keep for ever
  end if;
  -- Oldest first along message_id (which follows sending); messages someone is changing right now wait
  -- for the next batch rather than for their lock.
  select coalesce(array_agg(m.message_id), '{}') into v_ids
  from (
    select msg.message_id from chat_private.messages msg
    where msg.deleted_at is null and msg.sent_at < now() - make_interval(days => v_days)
    order by msg.message_id
    limit batch
    for update skip locked
  ) m;
  if cardinality(v_ids) = 0 then
    return 0;
  end if;
  delete from chat_private.message_edits e where e.message_id = any(v_ids);
  delete from chat_private.attachments a
  using chat_private.messages msg
  where msg.message_id = any(v_ids) and a.conversation_id = msg.conversation_id and a.seq = msg.seq;
  update chat_private.messages msg
  set body = '', reactions = '[]', attachments = '[]', search = null, deleted_at = now()
  where msg.message_id = any(v_ids);
  return cardinality(v_ids);
end
$$;
comment on function chat_server.apply_message_retention(integer, integer) is
  'Message retention, for the server''s cron job (and DBAs): turns up to batch messages sent more than '
  'retention_days ago into tombstones (as delete_message: empty body, deleted_at set, no reactions, '
  'attachments or edit history; seq kept; members get message.deleted). retention_days null reads the '
  'setting microchatter.message_retention_days; 0 or unset keeps messages for ever. Returns how many '
  'were tombstoned: call again until 0.';
