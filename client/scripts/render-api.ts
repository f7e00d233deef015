/**
 * Renders client/src/generated/api.ts from the server's catalog: one argument and one result type per
 * function of schema `chat`, the row types they share, the method signatures with the SQL comments
 * as their docs, and the error codes of the server's table. Pure (catalog in, text out), so the
 * drift test renders exactly what `npm run client:types` writes.
 */
import type { ApiFunction, Catalog, Column, ValueType } from '../../server/catalog.ts';

/** Names the client itself uses; a SQL function of that name would shadow a client method. */
export const RESERVED_NAMES = [
  'call',
  'events',
  'inbox',
  'history',
  'token',
  'uploadAttachment',
  'downloadAttachment',
];

/**
 * The JSON shapes of jsonb columns, which the catalog can only call "JSON". Keyed by row type (or
 * function, for anonymous rows) and column; a column missing here is typed `Json`. Each shape is the
 * one the SQL builds (functions/chat/*.sql); an entry whose column is gone is simply unused.
 */
const jsonShapes: Record<string, string> = {
  'chat.conversation.last_message': 'Message | null',
  'chat.message.reactions': 'Reaction[]',
  'chat.message.attachments': 'AttachmentInfo[]',
  'chat.found_message.reactions': 'Reaction[]',
  'chat.found_message.attachments': 'AttachmentInfo[]',
  'unread_count.conversations': 'UnreadConversation[]',
};

const tsByValueType: Record<string, string> = {
  text: 'string',
  bigint: 'number',
  integer: 'number',
  boolean: 'boolean',
  'text[]': 'string[]',
  jsonb: 'Json',
  timestamptz: 'string',
};

/** A catalog type the map lacks (one the catalog learns later) is typed as any JSON, never guessed. */
const tsType = (type: ValueType): string =>
  tsByValueType[type] ?? (type.endsWith('[]') ? `${tsType(type.slice(0, -2) as ValueType)}[]` : 'Json');

const pascal = (name: string) =>
  name
    .replace(/^chat\./, '')
    .split(/[_.]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

/** A property name as TypeScript needs it (every SQL name we use is an identifier, but be safe). */
const property = (name: string) => (/^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name));

function docComment(text: string, indent: string): string[] {
  const clean = text.replaceAll('*/', '*\\/').trim();
  if (!clean) return [];
  const words = clean.split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line && line.length + word.length + 1 > 100 - indent.length) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return [`${indent}/**`, ...lines.map((l) => `${indent} * ${l}`), `${indent} */`];
}

function columnType(owner: string, column: Column): string {
  const shape = jsonShapes[`${owner}.${column.name}`];
  const base =
    column.type === 'jsonb' && shape
      ? shape
      : column.enum
        ? column.enum.map((value) => JSON.stringify(value)).join(' | ')
        : tsType(column.type);
  // The catalog says which columns are never null (the row types' column comments).
  if (!column.nullable || base.endsWith('| null')) return base;
  return `${base} | null`;
}

function rowInterface(name: string, owner: string, columns: Column[], doc = ''): string[] {
  return [
    ...docComment(doc, ''),
    `export interface ${name} {`,
    ...columns.flatMap((c) => [
      ...docComment(c.description ?? '', '  '),
      `  ${property(c.name)}: ${columnType(owner, c)};`,
    ]),
    '}',
  ];
}

interface Rendered {
  rowTypes: Map<string, string[]>;
  declarations: string[];
  methods: string[];
  runtime: string[];
}

function renderFunction(fn: ApiFunction, out: Rendered): void {
  const base = pascal(fn.name);
  const argsName = `${base}Args`;
  out.declarations.push(
    `/** Arguments of \`chat.${fn.name}\`${fn.args.length ? '' : ' (none)'}. */`,
    fn.args.length
      ? [
          `export interface ${argsName} {`,
          ...fn.args.map((a) =>
            a.optional
              ? `  ${property(a.name)}?: ${tsType(a.type)} | null;`
              : `  ${property(a.name)}: ${tsType(a.type)};`,
          ),
          '}',
        ].join('\n')
      : `export type ${argsName} = Record<string, never>;`,
  );

  const r = fn.result;
  let row: string | undefined;
  if (r.kind === 'row' || r.kind === 'rows') {
    if (r.typeName) {
      row = pascal(r.typeName);
      if (!out.rowTypes.has(row)) out.rowTypes.set(row, rowInterface(row, r.typeName, r.columns));
    } else {
      row = `${base}Row`;
      out.declarations.push(...rowInterface(row, fn.name, r.columns, `A row of \`chat.${fn.name}\`.`));
    }
  }
  const result =
    r.kind === 'none'
      ? 'undefined'
      : r.kind === 'value'
        ? `${tsType(r.type)} | null`
        : r.kind === 'rows'
          ? `${row}[]`
          : `${row}`;
  out.declarations.push(
    `/** What \`chat.${fn.name}\` answers. */`,
    `export type ${base}Result = ${result};`,
    '',
  );

  // Arguments may be left out altogether when none is required.
  const optionalArgs = fn.args.every((a) => a.optional);
  out.methods.push(
    ...docComment(fn.description, '  '),
    `  ${fn.name}(args${optionalArgs ? '?' : ''}: ${argsName}, options?: CallOptions): Promise<${base}Result>;`,
  );
  out.runtime.push(`  ${fn.name}: { readOnly: ${fn.readOnly} },`);
}

export function renderApi(catalog: Catalog, errorCodes: Record<string, number>): string {
  const functions = catalog.functions
    .filter((fn) => fn.schema === 'chat')
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const clash = functions.find((fn) => RESERVED_NAMES.includes(fn.name));
  if (clash) throw new Error(`chat.${clash.name} would shadow the client's own ${clash.name}(): rename one`);

  const out: Rendered = { rowTypes: new Map(), declarations: [], methods: [], runtime: [] };
  for (const fn of functions) renderFunction(fn, out);

  const codes = Object.keys(errorCodes).sort();
  return [
    '// Generated by `npm run client:types` from the catalog of a migrated database (client/scripts/).',
    '// Do not edit: test/client/generated.test.ts fails when this file differs from what the SQL says now.',
    '',
    '/** Any JSON value. */',
    'export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };',
    '',
    '/** One emoji on a message and who reacted with it, in first-reaction order. */',
    'export interface Reaction {',
    '  emoji: string;',
    '  count: number;',
    '  users: string[];',
    '}',
    '',
    '/** A file attached to a message (bytes at GET /attachments/<attachment_id>). */',
    'export interface AttachmentInfo {',
    '  attachment_id: string;',
    '  name: string;',
    '  content_type: string;',
    '  size: number;',
    '}',
    '',
    '/** One conversation with unread messages, in `unread_count().conversations`. */',
    'export interface UnreadConversation {',
    '  conversation_id: number;',
    '  unread: number;',
    '  muted: boolean;',
    '}',
    '',
    '/** Per-call options. */',
    'export interface CallOptions {',
    '  signal?: AbortSignal;',
    '}',
    '',
    '/** The error codes of the server (docs/errors.md) and the HTTP status each is answered with. */',
    'export const errorStatus = {',
    ...codes.map((code) => `  ${code}: ${errorCodes[code]},`),
    '} as const;',
    '',
    'export type ErrorCode = keyof typeof errorStatus;',
    '',
    ...[...out.rowTypes.values()].flatMap((lines) => [...lines, '']),
    ...out.declarations,
    '/** Every user function of schema `chat`, as a method: `client.<name>(args)` is `POST /rpc/<name>`. */',
    'export interface ChatApi {',
    ...out.methods,
    '}',
    '',
    '/** The functions at run time; `readOnly` ones are stable in SQL (also served on GET). */',
    'export const chatFunctions = {',
    ...out.runtime,
    '} as const satisfies Record<keyof ChatApi, { readOnly: boolean }>;',
    '',
  ].join('\n');
}
