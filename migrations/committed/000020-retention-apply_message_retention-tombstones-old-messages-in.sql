--! Previous: sha1:f2bd9f39dce657c548fdcec0acaa3287dff67540
--! Hash: sha1:802196052b16e8a7997ec2a310e6a9f478a5b9cc
--! Message: Retention: apply_message_retention tombstones old messages in batches; prune_events also prunes delivered and failed webhook deliveries

--! Included chat_server/prune_events.sql
create or replace function chat_server.prune_events(retention interval default '30 days')
returns bigint
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_cut bigint;
  v_deleted bigint := 0;
begin
  -- The log is cut at one position, the first event young enough to keep, so "older than the
  -- retained events" is one comparison. (Positions follow commit order, times start order: an old
  -- event just after the cut waits for the next pruning.)
  select coalesce(
    (select e.position from chat_private.events e where e.created_at >= now() - retention order by e.position limit 1),
    (select max(e.position) + 1 from chat_private.events e)
  ) into v_cut;
  if v_cut is not null then
    delete from chat_private.events e where e.position < v_cut;
    get diagnostics v_deleted = row_count;
    update chat_private.event_log l set pruned_through = v_cut - 1 where l.pruned_through < v_cut - 1;
  end if;
  -- Deliveries that reached their receiver (they keep no payload) or failed for good, kept as long as
  -- the events for list_webhook_deliveries.
  delete from chat_private.webhook_deliveries d
  where d.status <> 'pending' and coalesce(d.delivered_at, d.last_attempt_at, d.occurred_at) < now() - retention;
  delete from chat_private.stream_tickets t where t.expires_at < now();
  -- A bucket that has refilled is the same as no bucket.
  delete from chat_private.rate_limits r where r.refilled_at < now();
  return v_deleted;
end
$$;
comment on function chat_server.prune_events(interval) is
  'Deletes events older than the retention (default 30 days), webhook deliveries delivered or failed '
  'before it, expired stream tickets and refilled rate-limit buckets; returns how many events went. A '
  'client whose cursor is older gets a reset. The server calls it hourly.';
--! EndIncluded chat_server/prune_events.sql
--! Included chat_server/apply_message_retention.sql
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
--! EndIncluded chat_server/apply_message_retention.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
