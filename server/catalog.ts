/**
 * The API as PostgreSQL describes it: every function of schemas `chat` and `chat_admin`, with its
 * arguments, their types and defaults, its return shape, volatility and comment. Read once at
 * start-up; the RPC endpoints, their argument checks, /openapi.json and /docs all derive from it, so
 * adding a documented SQL function adds a documented endpoint.
 */
import type { Sql } from './db.ts';

/** The argument and column types the API uses. A function using another type is not exposed. */
export type ValueType = 'text' | 'bigint' | 'integer' | 'boolean' | 'text[]' | 'jsonb' | 'timestamptz';

export interface Argument {
  name: string;
  type: ValueType;
  /** Has a default in SQL, so a request may leave it out. */
  optional: boolean;
}

export interface Column {
  name: string;
  type: ValueType;
  /**
   * Whether the value may be null. Row type attributes cannot be declared NOT NULL, so a column of a
   * named row type is non-null only when its comment carries the `@notNull` tag (functions/chat/types.sql);
   * every other column may be null.
   */
  nullable: boolean;
  /** The column's comment, tags removed. */
  description?: string;
  /**
   * The closed set of values, from the CHECK constraint its `@check schema.table.column` tag names
   * (`column in ('a', 'b')`): read from the constraint, never listed twice.
   */
  enum?: string[];
}

/**
 * How the function's result reaches the client: `rows` a JSON array, `row` an object, `value` a
 * scalar, `none` 204 No Content.
 */
export type ResultShape =
  | { kind: 'rows'; typeName: string | null; columns: Column[] }
  | { kind: 'row'; typeName: string | null; columns: Column[] }
  | { kind: 'value'; type: ValueType }
  | { kind: 'none' };

export interface ApiFunction {
  schema: 'chat' | 'chat_admin';
  name: string;
  description: string;
  /** Stable or immutable: safe to serve on GET. */
  readOnly: boolean;
  /** Arguments a client passes; `actor` (chat schema) is not among them: the server supplies it. */
  args: Argument[];
  /** Whether the SQL function's first argument is `actor`. */
  takesActor: boolean;
  result: ResultShape;
}

export interface Catalog {
  functions: ApiFunction[];
  find(schema: ApiFunction['schema'], name: string): ApiFunction | undefined;
}

const typeByPgName: Record<string, ValueType> = {
  text: 'text',
  bigint: 'bigint',
  integer: 'integer',
  boolean: 'boolean',
  'text[]': 'text[]',
  jsonb: 'jsonb',
  'timestamp with time zone': 'timestamptz',
};

interface FunctionRow {
  schema: ApiFunction['schema'];
  name: string;
  description: string | null;
  volatility: string;
  returns_set: boolean;
  return_type: string;
  return_type_kind: string;
  return_columns: { name: string; type: string; comment: string | null }[] | null;
  params: { name: string | null; type: string; mode: string }[];
  defaults: number;
}

function valueType(pgType: string, where: string): ValueType {
  const type = typeByPgName[pgType];
  if (!type) throw new Error(`${where} has type ${pgType}, which the HTTP layer does not map`);
  return type;
}

/** `table.column` → the values its single-column CHECK constraint allows. */
type CheckedValues = Map<string, string[]>;

/** The values of `column = ANY (ARRAY['a'::text, …])`, the form `column in ('a', …)` is stored as. */
export function checkValues(definition: string): string[] | undefined {
  const match = /^CHECK \(\(\w+ = ANY \(ARRAY\[(.*)\]\)\)\)$/.exec(definition);
  if (!match?.[1]) return undefined;
  const values = [...match[1].matchAll(/'((?:[^']|'')*)'::text/g)].map((m) =>
    (m[1] ?? '').replaceAll("''", "'"),
  );
  return values.length > 0 ? values : undefined;
}

/**
 * A column of a named row type, as its comment declares it: lines `@notNull` and `@check
 * schema.table.column` are tags (the convention PostGraphile's smart comments use), the rest is prose.
 */
function declaredColumn(
  c: { name: string; type: string; comment: string | null },
  checks: CheckedValues,
  where: string,
): Column {
  const lines = (c.comment ?? '').split('\n');
  const tags = lines.filter((line) => line.startsWith('@')).map((line) => line.trim().split(/\s+/));
  const column: Column = {
    name: c.name,
    type: valueType(c.type, `${where} column ${c.name}`),
    nullable: !tags.some(([tag]) => tag === '@notNull'),
  };
  const description = lines
    .filter((line) => !line.startsWith('@'))
    .join('\n')
    .trim();
  if (description) column.description = description;
  for (const [tag, target] of tags) {
    if (tag === '@notNull') continue;
    if (tag !== '@check' || !target) throw new Error(`${where} column ${c.name}: unknown tag ${tag}`);
    const values = checks.get(target);
    if (!values) throw new Error(`${where} column ${c.name}: no CHECK (… in (…)) constraint on ${target}`);
    column.enum = values;
  }
  return column;
}

function resultShape(row: FunctionRow, checks: CheckedValues, where: string): ResultShape {
  const outParams = row.params.filter((p) => p.mode === 'o' || p.mode === 't' || p.mode === 'b');
  const columnsOf = (list: { name: string | null; type: string }[]) =>
    list.map((c) => ({
      name: c.name ?? '',
      type: valueType(c.type, `${where} column ${c.name}`),
      nullable: true,
    }));
  if (outParams.length > 0) {
    // OUT parameters or RETURNS TABLE: an anonymous row type.
    return { kind: row.returns_set ? 'rows' : 'row', typeName: null, columns: columnsOf(outParams) };
  }
  if (row.return_type === 'void') return { kind: 'none' };
  if (row.return_type_kind === 'c') {
    return {
      kind: row.returns_set ? 'rows' : 'row',
      typeName: row.return_type,
      columns: (row.return_columns ?? []).map((c) => declaredColumn(c, checks, where)),
    };
  }
  if (row.returns_set)
    throw new Error(`${where} returns a set of scalars, which the HTTP layer does not map`);
  return { kind: 'value', type: valueType(row.return_type, `${where} result`) };
}

function toApiFunction(row: FunctionRow, checks: CheckedValues): ApiFunction {
  const where = `${row.schema}.${row.name}`;
  const inputs = row.params.filter((p) => p.mode === 'i');
  const firstDefault = inputs.length - row.defaults;
  const takesActor = row.schema === 'chat' && inputs[0]?.name === 'actor';
  const args = inputs
    .map((p, index) => ({
      name: p.name ?? '',
      type: valueType(p.type, `${where} argument ${p.name}`),
      optional: index >= firstDefault,
    }))
    .slice(takesActor ? 1 : 0);
  if (args.some((a) => a.name === '')) throw new Error(`${where} has an unnamed argument`);
  return {
    schema: row.schema,
    name: row.name,
    description: row.description ?? '',
    readOnly: row.volatility !== 'v',
    args,
    takesActor,
    result: resultShape(row, checks, where),
  };
}

export async function loadCatalog(sql: Sql): Promise<Catalog> {
  const rows = await sql<FunctionRow[]>`
    select
      n.nspname as schema,
      p.proname as name,
      obj_description(p.oid, 'pg_proc') as description,
      p.provolatile as volatility,
      p.proretset as returns_set,
      format_type(p.prorettype, null) as return_type,
      t.typtype as return_type_kind,
      (
        select json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                                          'comment', col_description(a.attrelid, a.attnum))
                        order by a.attnum)
        from pg_attribute a
        where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped
      ) as return_columns,
      coalesce((
        select json_agg(json_build_object(
                 'name', p.proargnames[i],
                 'type', format_type(coalesce(p.proallargtypes[i], p.proargtypes[i - 1]), null),
                 'mode', coalesce(p.proargmodes[i], 'i'))
               order by i)
        from generate_series(1, coalesce(array_length(p.proallargtypes, 1), p.pronargs)) as i
      ), '[]') as params,
      p.pronargdefaults as defaults
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
    join pg_type t on t.oid = p.prorettype
    where n.nspname in ('chat', 'chat_admin') and p.prokind = 'f'
    order by n.nspname, p.proname`;
  // Single-column CHECK constraints of the private tables, for the `@check` tags.
  const constraints = await sql<{ target: string; definition: string }[]>`
    select n.nspname || '.' || r.relname || '.' || a.attname as target,
           pg_get_constraintdef(con.oid) as definition
    from pg_constraint con
    join pg_class r on r.oid = con.conrelid
    join pg_namespace n on n.oid = r.relnamespace
    join pg_attribute a on a.attrelid = r.oid and a.attnum = con.conkey[1]
    where con.contype = 'c' and cardinality(con.conkey) = 1 and n.nspname = 'chat_private'`;
  const checks: CheckedValues = new Map();
  for (const { target, definition } of constraints) {
    const values = checkValues(definition);
    if (values) checks.set(target, values);
  }
  const functions = rows.map((row) => toApiFunction(row, checks));
  const byKey = new Map(functions.map((f) => [`${f.schema}.${f.name}`, f]));
  return { functions, find: (schema, name) => byKey.get(`${schema}.${name}`) };
}
