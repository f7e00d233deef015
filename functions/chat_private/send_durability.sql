-- Sends may opt out of waiting for their commit's WAL flush: with microchatter.send_synchronous_commit
-- = off (a database, role or session setting, which the server may set on its connections),
-- chat.send_message and chat_server.send_messages set synchronous_commit = off for their own
-- transaction. The trade: a send is acknowledged before its commit is on disk, so a crash of the
-- database server (not of the application) can lose the sends of the last moments before it, up to
-- about three times wal_writer_delay (600 ms by default), though they were answered as sent. The
-- database is never corrupted or inconsistent by it: a lost send is lost whole, with its events, and
-- seq stays gap-free. Never the default; any value but off keeps sends durable.
create or replace function chat_private.apply_send_durability()
returns void
language plpgsql
volatile
as $$
begin
  if current_setting('microchatter.send_synchronous_commit', true) = 'off' then
    perform set_config('synchronous_commit', 'off', true);
  end if;
end
$$;
