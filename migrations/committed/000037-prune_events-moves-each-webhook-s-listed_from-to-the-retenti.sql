--! Previous: sha1:c073ce64870e476701dc36e2338693cbab0de22b
--! Hash: sha1:829f05dff7066ea148bb5ebf5e2c5299bcf924ff
--! Message: prune_events moves each webhook's listed_from to the retention cut: an old event held in the log for another webhook is no longer listed as delivered once its failed row is pruned

-- Pruning moves each webhook's listed_from up to the retention cut: list_webhook_deliveries listed an
-- old event that another webhook still held in the log as delivered, after the row of its failed
-- delivery was pruned.
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
  -- Older events are listed from the log no more (chat_admin.list_webhook_deliveries): a webhook that
  -- has still to take them keeps them below, while the rows of their failed deliveries go.
  update chat_private.webhooks w set listed_from = v_cut - 1
  where w.listed_from is not null and w.listed_from < v_cut - 1;
  -- Nor past what a webhook has still to take: the log is its outbox.
  v_cut := least(v_cut, (select min(w.taken_through) + 1 from chat_private.webhooks w));
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
  'Deletes events older than the retention (default 30 days) that every webhook has taken, webhook '
  'deliveries delivered or failed before it, expired stream tickets and refilled rate-limit buckets; returns how many events went. A '
  'client whose cursor is older gets a reset. The server calls it hourly.';
--! EndIncluded chat_server/prune_events.sql
--! Included chat_private/privileges.sql
-- Only the application role may call the API, and nobody but the owner the helpers. Included at the end
-- of every migration that adds functions: PostgreSQL grants execute to public on each new function,
-- and per-schema default privileges cannot take that back.
revoke all on all functions in schema chat, chat_admin, chat_server, chat_private from public;
grant execute on all functions in schema chat, chat_admin, chat_server to microchatter_app;
--! EndIncluded chat_private/privileges.sql
