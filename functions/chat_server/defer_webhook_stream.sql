create or replace function chat_server.defer_webhook_stream(webhook_id bigint, stream text, milliseconds integer)
returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  select chat_private.wake_webhook_stream(webhook_id, stream, now() + make_interval(secs => milliseconds / 1000.0))
$$;
comment on function chat_server.defer_webhook_stream(bigint, text, integer) is
  'For the deliver_webhooks job: try this stream again later without spending an attempt (its endpoint '
  'keeps failing and has enough attempts in flight).';
