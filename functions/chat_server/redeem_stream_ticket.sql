create or replace function chat_server.redeem_stream_ticket(ticket text)
returns table (user_id text, credential_expires_at timestamptz)
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  -- Deleting it is what makes it single-use: two redemptions cannot both delete the row.
  delete from chat_private.stream_tickets t
  where t.ticket_hash = sha256(convert_to(ticket, 'UTF8')) and t.expires_at > now()
  returning t.user_id, t.credential_expires_at
$$;
comment on function chat_server.redeem_stream_ticket(text) is
  'Uses up a stream ticket: returns its user (and when the credential it was made from expires), or no '
  'row when the ticket is unknown, used or expired.';
