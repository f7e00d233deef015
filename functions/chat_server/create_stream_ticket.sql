create or replace function chat_server.create_stream_ticket(
  user_id text,
  credential_expires_at timestamptz default null,
  valid_for interval default '60 seconds'
)
returns table (ticket text, expires_at timestamptz)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_ticket text := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
  v_expires_at timestamptz := now() + least(valid_for, interval '60 seconds');
begin
  create_stream_ticket.user_id := chat_private.nfc(create_stream_ticket.user_id);
  perform chat_private.require_user(create_stream_ticket.user_id);
  -- Only a hash is stored: a leaked table does not let anyone open a stream.
  insert into chat_private.stream_tickets (ticket_hash, user_id, expires_at, credential_expires_at)
  values (sha256(convert_to(v_ticket, 'UTF8')), create_stream_ticket.user_id, v_expires_at, credential_expires_at);
  return query select v_ticket, v_expires_at;
end
$$;
comment on function chat_server.create_stream_ticket(text, timestamptz, interval) is
  'A single-use ticket (valid at most 60 s) that opens one event stream for the user: browsers'' '
  'EventSource cannot send an Authorization header. Stored in the database, so any server process can '
  'redeem it. Errors: MCUNU.';
