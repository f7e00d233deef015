create or replace function chat_server.webhook_attempt_failed(
  delivery_id bigint,
  response_status integer,
  error text,
  retry_base_ms integer,
  retry_max_ms integer,
  retry_hours integer
)
returns text
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_delivery chat_private.webhook_deliveries;
  v_deadline timestamptz;
  v_delay interval;
begin
  select * into v_delivery from chat_private.webhook_deliveries d
  where d.delivery_id = webhook_attempt_failed.delivery_id and d.status = 'pending'
  for update;
  if not found then
    return 'gone';
  end if;
  v_deadline := v_delivery.occurred_at + make_interval(hours => retry_hours);
  -- Exponential backoff with jitter: base·2^(attempts), at most max, each wait 50–100 % of that.
  v_delay := make_interval(secs => least(retry_base_ms * power(2, least(v_delivery.attempts, 30)), retry_max_ms)
    * (0.5 + random() / 2) / 1000.0);
  update chat_private.webhook_deliveries d
  set attempts = d.attempts + 1,
      response_status = webhook_attempt_failed.response_status,
      last_error = left(error, 500),
      last_attempt_at = now(),
      status = case when now() >= v_deadline then 'failed' else 'pending' end,
      next_attempt_at = least(now() + v_delay, v_deadline)
  where d.delivery_id = v_delivery.delivery_id
  returning * into v_delivery;
  if v_delivery.status = 'failed' then
    return 'failed'; -- the stream goes on with the next delivery
  end if;
  perform chat_private.wake_webhook(v_delivery.webhook_id, v_delivery.next_attempt_at);
  return 'retry';
end
$$;
comment on function chat_server.webhook_attempt_failed(bigint, integer, text, integer, integer, integer) is
  'For the deliver_webhooks job: an attempt got no 2xx. Returns retry (the stream waits, and a job of '
  'the webhook is queued for the next attempt, after an exponential backoff with jitter) or failed (the retry window since the '
  'event has passed: the delivery is failed for good and the stream moves on).';
