/**
 * `backup <file>` and `restore <file>`, with nothing but the PostgreSQL client library: the embedded
 * cluster ships no pg_dump, and a system pg_dump of another major version refuses it.
 *
 * What is saved: every row of every table in the schemas `chat` and `chat_*` (the schemas Microchatter's
 * migrations create; a site's own tables beside them are not touched), and the position of every
 * sequence there, all read in one repeatable-read snapshot, so the copy is consistent while the server
 * keeps running. Functions, roles and grants are not saved: the migrations recreate them, and the
 * header's migration level says which ones.
 *
 * The file (gzip when its name ends in .gz) is text, one JSON line then per table:
 *
 *   {"format":"microchatter-backup","format_version":1,"migration":{…},"tables":[…],"sequences":[…],…}
 *   {"table":"chat_private.users","columns":["user_id",…]}
 *   <the rows, as COPY … TO STDOUT writes them (text format: one line a row)>
 *   \.
 *   … one such section per table, parents before the tables referring to them …
 *   {"end":{"chat_private.users":12,…}}
 *
 * The row counts at the end catch a cut-off file. Restore migrates the target first, refuses a
 * different migration level, and then, in one transaction, empties the tables, copies the rows back
 * with the tables' triggers off (their events are already in the backup) and sets the sequences.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type postgres from 'postgres';
import type { Sql } from '../db.ts';

/** The pool, or a transaction on it. */
type Queryable = Sql | postgres.TransactionSql;

const FORMAT = 'microchatter-backup';
const FORMAT_VERSION = 1;
const END_OF_DATA = '\\.';

interface Table {
  /** Schema-qualified, quoted where needed by PostgreSQL itself (format %I). */
  name: string;
  oid: number;
  /** Stored columns, in table order; generated columns are left out (PostgreSQL computes them). */
  columns: string[];
  primaryKey: string[];
  references: number[];
}

interface SequenceState {
  name: string;
  last_value: number | string;
  is_called: boolean;
}

interface Migration {
  filename: string;
  hash: string;
}

interface Header {
  format: typeof FORMAT;
  format_version: number;
  created_at: string;
  postgres_version: string;
  migration: Migration;
  tables: string[];
  sequences: SequenceState[];
}

export interface BackupSummary {
  tables: number;
  rows: number;
  migration: string;
}

const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;

async function listTables(sql: Queryable): Promise<Table[]> {
  const rows = await sql<
    { name: string; oid: number; columns: string[]; primary_key: string[]; references: number[] }[]
  >`
    select format('%I.%I', n.nspname, c.relname) as name,
           c.oid::int8 as oid,
           array(
             select a.attname from pg_attribute a
             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
             order by a.attnum
           )::text[] as columns,
           array(
             select a.attname
             from pg_index i
             cross join unnest(i.indkey) with ordinality as k(attnum, position)
             join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
             where i.indrelid = c.oid and i.indisprimary
             order by k.position
           )::text[] as primary_key,
           array(
             select distinct f.confrelid::int8 from pg_constraint f
             where f.conrelid = c.oid and f.contype = 'f' and f.confrelid <> c.oid
           ) as references
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where (n.nspname = 'chat' or n.nspname like 'chat\_%')
      and c.relkind in ('r', 'p') and not c.relispartition
    order by 1`;
  return rows.map((row) => ({
    name: row.name,
    oid: Number(row.oid),
    columns: row.columns,
    primaryKey: row.primary_key,
    references: row.references.map(Number),
  }));
}

/** Parents before children, so that foreign keys hold row by row while restoring. */
function inDependencyOrder(tables: Table[]): Table[] {
  const byOid = new Map(tables.map((table) => [table.oid, table]));
  const ordered: Table[] = [];
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (table: Table) => {
    if (state.get(table.oid) === 'done') return;
    if (state.get(table.oid) === 'visiting') {
      throw new Error(`foreign keys form a cycle through ${table.name}: backup cannot order its tables`);
    }
    state.set(table.oid, 'visiting');
    for (const parent of table.references) {
      const referenced = byOid.get(parent);
      if (referenced) visit(referenced);
    }
    state.set(table.oid, 'done');
    ordered.push(table);
  };
  for (const table of tables) visit(table);
  return ordered;
}

async function listSequences(sql: Queryable): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    select format('%I.%I', n.nspname, c.relname) as name
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where (n.nspname = 'chat' or n.nspname like 'chat\_%') and c.relkind = 'S'
    order by 1`;
  return rows.map((row) => row.name);
}

async function migrationLevel(sql: Queryable): Promise<Migration> {
  const [schema] = await sql`select from pg_namespace where nspname = 'graphile_migrate'`;
  if (!schema) throw new Error('the database has no Microchatter migrations (schema graphile_migrate)');
  const [latest] = await sql<Migration[]>`
    select filename, hash from graphile_migrate.migrations order by filename desc limit 1`;
  if (!latest) throw new Error('the database has no Microchatter migrations applied');
  return latest;
}

/** Counts rows in COPY text output: every row ends in a newline, newlines inside values are escaped. */
function countNewlines(chunk: Buffer): number {
  let count = 0;
  for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) count++;
  return count;
}

/**
 * postgres.js pauses the connection's socket when a COPY stream's buffer is full, and resumes it when
 * the stream is read again. When the last rows and the end of the COPY arrive together, the stream
 * ends while the socket is paused, and the connection's next query waits for ever
 * (porsager/postgres#499). Asking the ended stream to read resumes the socket.
 */
function resumeConnection(stream: Readable): void {
  stream._read(0);
}

async function write(out: Writable, chunk: string | Buffer): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

export async function backup(sql: Sql, file: string): Promise<BackupSummary> {
  const partial = `${file}.partial-${process.pid}`;
  const fileStream = createWriteStream(partial, { mode: 0o600 });
  const gzip = /\.gz$/i.test(file) ? createGzip() : undefined;
  gzip?.pipe(fileStream);
  const out: Writable = gzip ?? fileStream;
  const counts: Record<string, number> = {};
  try {
    const migration = await sql.begin('isolation level repeatable read read only', async (tx) => {
      // The first query fixes the snapshot; sequences are read after it, so they are at least as far
      // on as any row the snapshot shows.
      const tables = inDependencyOrder(await listTables(tx));
      const level = await migrationLevel(tx);
      const [version] = await tx<{ server_version: string }[]>`show server_version`;
      const sequences: SequenceState[] = [];
      for (const name of await listSequences(tx)) {
        const [state] = await tx.unsafe<{ last_value: number; is_called: boolean }[]>(
          `select last_value, is_called from ${name}`,
        );
        if (state) sequences.push({ name, last_value: state.last_value, is_called: state.is_called });
      }
      const header: Header = {
        format: FORMAT,
        format_version: FORMAT_VERSION,
        created_at: new Date().toISOString(),
        postgres_version: version?.server_version ?? 'unknown',
        migration: level,
        tables: tables.map((table) => table.name),
        sequences,
      };
      await write(out, `${JSON.stringify(header)}\n`);

      for (const table of tables) {
        await write(out, `${JSON.stringify({ table: table.name, columns: table.columns })}\n`);
        const columns = table.columns.map(quoteIdentifier).join(', ');
        // In key order, so a table referring to itself (a reply to an earlier row) restores row by row.
        const order = table.primaryKey.length > 0 ? ` order by ${table.primaryKey.map(quoteIdentifier)}` : '';
        const rows = (await tx
          .unsafe(`copy (select ${columns} from ${table.name}${order}) to stdout`)
          .readable()) as Readable;
        let count = 0;
        for await (const chunk of rows) {
          count += countNewlines(chunk as Buffer);
          await write(out, chunk as Buffer);
        }
        resumeConnection(rows);
        counts[table.name] = count;
        await write(out, `${END_OF_DATA}\n`);
      }
      return level;
    });
    await write(out, `${JSON.stringify({ end: counts })}\n`);
    out.end();
    await finished(fileStream);
    await rename(partial, file);
    const rows = Object.values(counts).reduce((sum, count) => sum + count, 0);
    return { tables: Object.keys(counts).length, rows, migration: migration.filename };
  } catch (error) {
    out.destroy();
    await rm(partial, { force: true });
    throw error;
  }
}

/** A backup's lines, gunzipped when the file starts with gzip's magic bytes. */
async function openLines(file: string): Promise<AsyncIterableIterator<string>> {
  const handle = await open(file, 'r').catch((error: NodeJS.ErrnoException) => {
    throw new Error(error.code === 'ENOENT' ? `${file}: no such file` : `${file}: ${error.message}`);
  });
  const magic = Buffer.alloc(2);
  await handle.read(magic, 0, 2, 0);
  await handle.close();
  const raw = createReadStream(file);
  const input = magic[0] === 0x1f && magic[1] === 0x8b ? raw.pipe(createGunzip()) : raw;
  input.setEncoding('utf8');
  return createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })[Symbol.asyncIterator]();
}

function parseJsonLine(line: string | undefined, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(line ?? '');
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {}
  throw new Error(`not a Microchatter backup: ${what} is not a JSON object`);
}

async function readHeader(lines: AsyncIterableIterator<string>): Promise<Header> {
  const first = await lines.next();
  const header = parseJsonLine(first.done ? undefined : first.value, 'the first line');
  if (header.format !== FORMAT) throw new Error('not a Microchatter backup (no microchatter-backup header)');
  if (header.format_version !== FORMAT_VERSION) {
    throw new Error(
      `backup format version ${String(header.format_version)}: this Microchatter reads version ${FORMAT_VERSION}`,
    );
  }
  return header as unknown as Header;
}

export interface RestoreOptions {
  /** Replace the rows of a database that already has users. */
  force: boolean;
}

/** Checks the backup against the target's own catalog: names from the file never reach SQL unchecked. */
function checkTables(header: Header, target: Table[]): Map<string, Table> {
  const byName = new Map(target.map((table) => [table.name, table]));
  const missing = header.tables.filter((name) => !byName.has(name));
  const extra = target.filter((table) => !header.tables.includes(table.name)).map((table) => table.name);
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(
      `the backup's tables differ from this database's (${[
        ...missing.map((name) => `only in the backup: ${name}`),
        ...extra.map((name) => `only here: ${name}`),
      ].join('; ')})`,
    );
  }
  return byName;
}

async function copyIn(
  tx: Queryable,
  table: Table,
  columns: string[],
  lines: AsyncIterableIterator<string>,
): Promise<number> {
  const unknown = columns.find((column) => !table.columns.includes(column));
  if (unknown !== undefined) throw new Error(`the backup has a column ${unknown} that ${table.name} lacks`);
  const into = (await tx
    .unsafe(`copy ${table.name} (${columns.map(quoteIdentifier).join(', ')}) from stdin`)
    .writable()) as Writable;
  let rows = 0;
  let buffered: string[] = [];
  let bufferedLength = 0;
  for (;;) {
    const next = await lines.next();
    if (next.done) throw new Error(`the backup ends inside table ${table.name}: the file is incomplete`);
    if (next.value === END_OF_DATA) break;
    rows++;
    buffered.push(next.value);
    bufferedLength += next.value.length + 1;
    if (bufferedLength >= 1 << 16) {
      await write(into, `${buffered.join('\n')}\n`);
      buffered = [];
      bufferedLength = 0;
    }
  }
  if (buffered.length > 0) await write(into, `${buffered.join('\n')}\n`);
  into.end();
  await finished(into);
  return rows;
}

export async function restore(sql: Sql, file: string, options: RestoreOptions): Promise<BackupSummary> {
  const lines = await openLines(file);
  const header = await readHeader(lines);
  const level = await migrationLevel(sql);
  if (level.hash !== header.migration.hash) {
    throw new Error(
      `the backup is at migration ${header.migration.filename}, this database at ${level.filename}: ` +
        'restore with the Microchatter version that made the backup, then upgrade',
    );
  }
  const counts = await sql.begin(async (tx) => {
    const tables = checkTables(header, await listTables(tx));
    const [users] = await tx`select from chat_private.users limit 1`;
    if (users && !options.force) {
      throw new Error(
        'the database already has users: restore into a fresh one, or pass --force to replace them',
      );
    }
    const names = [...tables.keys()];
    // Triggers would write events for every row; the events are in the backup already.
    for (const name of names) await tx.unsafe(`alter table ${name} disable trigger user`);
    await tx.unsafe(`truncate ${names.join(', ')}`);

    const restored: Record<string, number> = {};
    for (;;) {
      const next = await lines.next();
      if (next.done) throw new Error('the backup has no end line: the file is incomplete');
      const section = parseJsonLine(next.value, 'a section header');
      if (section.end !== undefined) {
        const expected = section.end as Record<string, number>;
        for (const name of header.tables) {
          if (restored[name] !== expected[name]) {
            throw new Error(
              `table ${name}: ${restored[name] ?? 0} rows read, the backup lists ${expected[name]}`,
            );
          }
        }
        break;
      }
      const table = tables.get(String(section.table));
      if (!table || !Array.isArray(section.columns)) {
        throw new Error(`not a Microchatter backup: unexpected section ${next.value.slice(0, 100)}`);
      }
      restored[table.name] = await copyIn(tx, table, section.columns.map(String), lines);
    }

    const sequences = new Set(await listSequences(tx));
    for (const sequence of header.sequences) {
      if (!sequences.has(sequence.name))
        throw new Error(`the backup has a sequence ${sequence.name} unknown here`);
      await tx`select setval(${sequence.name}::regclass, ${sequence.last_value}, ${sequence.is_called})`;
    }
    for (const name of names) await tx.unsafe(`alter table ${name} enable trigger user`);
    return restored;
  });
  // Fresh statistics, or the first queries plan as if the tables were empty.
  for (const name of Object.keys(counts)) await sql.unsafe(`analyze ${name}`);
  const rows = Object.values(counts).reduce((sum, count) => sum + count, 0);
  return { tables: Object.keys(counts).length, rows, migration: header.migration.filename };
}
