/**
 * The generic RPC bridge: `POST /rpc/<name>` with a JSON object of named arguments calls
 * `chat.<name>(actor => <the verified user>, …)`, `GET` does the same for read-only functions with
 * query parameters, and `POST /admin/rpc/<name>` calls `chat_admin.<name>`. There is no per-endpoint
 * code: which functions exist, which arguments they take and of what type come from the catalog.
 */
import type { ApiFunction, Argument, ValueType } from './catalog.ts';
import { type Sql, sentWithin } from './db.ts';
import { ApiError } from './errors.ts';

/** A checked value for one SQL argument; the driver serialises it for the parameter's type. */
type SqlValue = string | number | boolean | string[] | null | { json: unknown };

const INT4_MAX = 2 ** 31 - 1;
const INT8_MAX = 9223372036854775807n;

function invalid(arg: Argument, expected: string): ApiError {
  return new ApiError('MCARG', `argument ${arg.name} must be ${expected}`);
}

function checkText(arg: Argument, value: unknown): string {
  if (typeof value !== 'string') throw invalid(arg, 'a string');
  // PostgreSQL text cannot hold NUL; say so rather than let the driver fail.
  if (value.includes('\u0000')) throw invalid(arg, 'a string without NUL characters');
  return value;
}

/** Integers arrive as JSON numbers, or as strings of digits (bigints beyond 2^53 cannot be numbers). */
function checkInteger(arg: Argument, value: unknown, bigint: boolean): string | number {
  const expected = bigint ? 'an integer' : `an integer up to ${INT4_MAX}`;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || (!bigint && Math.abs(value) > INT4_MAX)) throw invalid(arg, expected);
    return value;
  }
  if (typeof value === 'string' && /^-?\d{1,19}$/.test(value)) {
    const big = BigInt(value);
    if (big > INT8_MAX || big < -INT8_MAX - 1n || (!bigint && (big > INT4_MAX || big < -INT4_MAX - 1)))
      throw invalid(arg, expected);
    return value;
  }
  throw invalid(arg, expected);
}

/**
 * No argument of the API nests anywhere near this deep; far deeper values exhaust PostgreSQL's stack
 * (and recursive checks') instead of meeting a rule.
 */
const MAX_JSON_DEPTH = 64;

/** Whether `value` has arrays or objects nested more than `limit` levels deep (iterative: no recursion). */
function nestedDeeperThan(value: unknown, limit: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, depth] = next;
    if (item === null || typeof item !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return false;
}

function checkValue(arg: Argument, value: unknown): SqlValue {
  switch (arg.type) {
    case 'text':
      return checkText(arg, value);
    case 'bigint':
      return checkInteger(arg, value, true);
    case 'integer':
      return checkInteger(arg, value, false);
    case 'boolean':
      if (typeof value !== 'boolean') throw invalid(arg, 'true or false');
      return value;
    case 'text[]':
      if (!Array.isArray(value)) throw invalid(arg, 'an array of strings');
      return value.map((item) => checkText({ ...arg, name: `${arg.name}[]` }, item));
    case 'jsonb':
      if (nestedDeeperThan(value, MAX_JSON_DEPTH))
        throw invalid(arg, `JSON nested at most ${MAX_JSON_DEPTH} levels deep`);
      return { json: value };
    case 'timestamptz':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value)))
        throw invalid(arg, 'an ISO 8601 timestamp');
      return value;
  }
}

/** Query strings carry only strings; turn them into what a JSON body would have held. */
export function fromQueryString(fn: ApiFunction, query: URLSearchParams): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const key of new Set(query.keys())) {
    const values = query.getAll(key);
    const type = fn.args.find((a) => a.name === key)?.type;
    const last = values[values.length - 1] ?? '';
    if (type === 'text[]') args[key] = values;
    else if (type === 'bigint' || type === 'integer') args[key] = /^-?\d+$/.test(last) ? last : Number.NaN;
    else if (type === 'boolean') args[key] = last === 'true' ? true : last === 'false' ? false : last;
    else if (type === 'jsonb') {
      try {
        args[key] = JSON.parse(last);
      } catch {
        throw new ApiError('MCARG', `argument ${key} must be JSON`);
      }
    } else args[key] = last;
  }
  return args;
}

/**
 * Checks a request's arguments against the function's signature: an object, no unknown names (and
 * never `actor`), every required argument present, each of its SQL type. JSON null means "left out".
 */
export function checkArguments(fn: ApiFunction, input: unknown): Map<Argument, SqlValue> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ApiError('MCJSN', 'the request body must be a JSON object of named arguments');
  }
  const given = input as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (name === 'actor' && fn.takesActor) {
      throw new ApiError('MCARG', 'actor is taken from your credentials and must not be given');
    }
    if (!fn.args.some((a) => a.name === name)) {
      const known = fn.args.map((a) => a.name).join(', ') || 'none';
      throw new ApiError('MCARG', `unknown argument ${name} (${fn.name} takes: ${known})`);
    }
  }
  const checked = new Map<Argument, SqlValue>();
  for (const arg of fn.args) {
    const value = given[arg.name];
    if (value === undefined || value === null) {
      if (!arg.optional) throw new ApiError('MCARG', `missing argument ${arg.name}`);
      continue;
    }
    checked.set(arg, checkValue(arg, value));
  }
  return checked;
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Calls the function with named arguments. Identifiers come from the catalog, never from the request;
 * values are always bound parameters.
 */
export async function callFunction(
  sql: Sql,
  fn: ApiFunction,
  actor: string | null,
  args: Map<Argument, SqlValue>,
): Promise<unknown> {
  const params: (string | number | boolean | string[] | null)[] = [];
  const named: string[] = [];
  const bind = (name: string, type: ValueType, value: SqlValue) => {
    // jsonb goes as its JSON text through a text parameter: bound directly, a bare true would be typed
    // boolean (which PostgreSQL will not cast to jsonb) and a string would be encoded a second time.
    const isJson = value !== null && typeof value === 'object' && 'json' in value;
    params.push(isJson ? JSON.stringify(value.json) : value);
    // ValueType names are SQL type names: the cast is the argument's declared type.
    named.push(`${quoteIdent(name)} => $${params.length}::${isJson ? 'text::jsonb' : type}`);
  };
  if (fn.takesActor) bind('actor', 'text', actor);
  for (const [arg, value] of args) bind(arg.name, arg.type, value);
  const call = `${quoteIdent(fn.schema)}.${quoteIdent(fn.name)}(${named.join(', ')})`;

  // Prepared: the texts come from the catalog and the arguments given, so there are few of them, and
  // preparing saves a parse and a round trip per call (bench/http.ts).
  const query = (text: string) => sentWithin(sql.unsafe(text, params, { prepare: true }));
  switch (fn.result.kind) {
    case 'rows':
      return await query(`select * from ${call}`);
    case 'row':
      return (await query(`select * from ${call}`))[0] ?? null;
    case 'value':
      return (await query(`select ${call} as value`))[0]?.value ?? null;
    case 'none':
      await query(`select ${call}`);
      return undefined;
  }
}
