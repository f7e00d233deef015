-- Tunable limits are custom settings a DBA can change per database or role, e.g.
--   alter database microchatter set microchatter.max_body_length = 8000;
create or replace function chat_private.setting(name text, fallback integer)
returns integer
language sql
stable
as $$
  select coalesce(nullif(current_setting('microchatter.' || name, true), '')::integer, fallback)
$$;
