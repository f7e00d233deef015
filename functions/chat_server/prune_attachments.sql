create or replace function chat_server.prune_attachments(older_than interval default '24 hours')
returns integer
language plpgsql
volatile
strict
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_deleted integer;
begin
  delete from chat_private.attachments a where a.conversation_id is null and a.created_at < now() - older_than;
  get diagnostics v_deleted = row_count;
  return v_deleted;
end
$$;
comment on function chat_server.prune_attachments(interval) is
  'Deletes uploads never attached to a message (finished or not) that are older than older_than '
  '(default 24 hours), with their bytes; returns how many. The server calls it hourly.';
