/**
 * OpenAPI 3.1 for every route, generated from the same catalog that routes the RPC endpoints: the SQL
 * function comments are the descriptions, the argument and row types the schemas, the row types'
 * column comments their nullability and closed sets (functions/chat/type_columns.sql). Written so
 * that a generator (openapi-typescript) gets required arguments, non-null fields and enums right.
 */
import type { ApiFunction, Argument, Catalog, Column, ValueType } from './catalog.ts';
import { statusByCode } from './errors.ts';
import { version } from './version.ts';

type Schema = Record<string, unknown>;

const schemaByType: Record<ValueType, Schema> = {
  text: { type: 'string' },
  bigint: { type: 'integer', format: 'int64' },
  integer: { type: 'integer', format: 'int32' },
  boolean: { type: 'boolean' },
  'text[]': { type: 'array', items: { type: 'string' } },
  jsonb: {},
  timestamptz: { type: 'string', format: 'date-time' },
};

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

/** `null` allowed too; a `$ref` cannot take siblings in every generator, so it goes in a oneOf. */
function orNull(schema: Schema): Schema {
  if (Object.keys(schema).length === 0) return schema; // any JSON, null included
  if ('$ref' in schema) return { oneOf: [schema, { type: 'null' }] };
  const { enum: values, ...rest } = schema as { enum?: unknown[]; type?: unknown };
  return {
    ...rest,
    type: [rest.type, 'null'],
    ...(values ? { enum: [...values, null] } : {}),
  };
}

/**
 * The JSON inside jsonb columns, which the catalog can only call "JSON": keyed by row type (or
 * function, for anonymous rows) and column, each the shape the SQL builds (functions/chat/*.sql).
 */
const jsonColumns: Record<string, Schema> = {
  'chat.message.reactions': { type: 'array', items: ref('Reaction') },
  'chat.message.attachments': { type: 'array', items: ref('AttachmentInfo') },
  'chat.found_message.reactions': { type: 'array', items: ref('Reaction') },
  'chat.found_message.attachments': { type: 'array', items: ref('AttachmentInfo') },
  'chat.conversation.last_message': ref('chat_message'),
  'unread_count.conversations': { type: 'array', items: ref('UnreadConversation') },
};

function columnSchema(owner: string, column: Column): Schema {
  const base = (column.type === 'jsonb' && jsonColumns[`${owner}.${column.name}`]) || {
    ...schemaByType[column.type],
    ...(column.enum ? { enum: column.enum } : {}),
  };
  const schema = column.nullable ? orNull(base) : base;
  return column.description ? { ...schema, description: column.description } : schema;
}

/** A result row: every column is always present (required), null only where it may be. */
function objectSchema(owner: string, columns: Column[]): Schema {
  return {
    type: 'object',
    properties: Object.fromEntries(columns.map((c) => [c.name, columnSchema(owner, c)])),
    required: columns.map((c) => c.name),
  };
}

/** Named row types (chat.message, …) become shared components; `chat.message` → `chat_message`. */
const componentName = (typeName: string) => typeName.replace(/\W/g, '_');

function resultSchema(fn: ApiFunction): Schema | null {
  const r = fn.result;
  if (r.kind === 'none') return null;
  if (r.kind === 'value') return orNull(schemaByType[r.type]);
  const row = r.typeName ? ref(componentName(r.typeName)) : objectSchema(fn.name, r.columns);
  return r.kind === 'rows' ? { type: 'array', items: row } : row;
}

/** An argument with a default may be left out or given as null; one without must be given. */
const argumentSchema = (a: Argument): Schema =>
  a.optional ? orNull(schemaByType[a.type]) : schemaByType[a.type];

function argumentsSchema(args: Argument[]): Schema {
  return {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(args.map((a) => [a.name, argumentSchema(a)])),
    required: args.filter((a) => !a.optional).map((a) => a.name),
  };
}

const errorStatuses = [...new Set(Object.values(statusByCode))].filter((s) => s >= 400).sort();

const jsonResponse = (description: string, schema: Schema) => ({
  description,
  content: { 'application/json': { schema } },
});
const errorResponses = Object.fromEntries(
  errorStatuses.map((s) => [s, { $ref: '#/components/responses/Error' }]),
);
const userSecurity = [{ bearer: [] }, { basic: [] }];

function operation(fn: ApiFunction, method: 'get' | 'post'): Schema {
  const result = resultSchema(fn);
  const responses: Record<string, Schema> = {
    ...(result ? { 200: jsonResponse('OK', result) } : { 204: { description: 'Done' } }),
    ...errorResponses,
  };
  const base: Schema = {
    operationId: method === 'get' ? `${fn.name}_get` : fn.name,
    summary: fn.description.split(/(?<=\.)\s/)[0],
    description: fn.description,
    tags: [fn.schema === 'chat' ? 'chat' : 'admin'],
    security: fn.schema === 'chat' ? userSecurity : [{ bearer: [] }],
    responses,
  };
  if (method === 'get') {
    return {
      ...base,
      parameters: fn.args.map((a) => ({
        name: a.name,
        in: 'query',
        required: !a.optional,
        schema: schemaByType[a.type],
      })),
    };
  }
  const schema = argumentsSchema(fn.args);
  return {
    ...base,
    // Required as soon as one argument is: a call that sends no body then cannot type-check.
    requestBody: {
      required: fn.args.some((a) => !a.optional),
      content: { 'application/json': { schema } },
    },
  };
}

const object = (properties: Record<string, Schema>, optional: string[] = []): Schema => ({
  type: 'object',
  properties,
  required: Object.keys(properties).filter((name) => !optional.includes(name)),
});
const string = { type: 'string' };
const int64 = { type: 'integer', format: 'int64' };
const dateTime = { type: 'string', format: 'date-time' };

/** The JSON shapes no catalog row type describes: inside jsonb columns, tokens, event data. */
const sharedSchemas: Record<string, Schema> = {
  Error: object({
    error: object({ code: { type: 'string', enum: Object.keys(statusByCode) }, message: string }),
  }),
  Token: object({ token: string, expires_at: dateTime }),
  Reaction: {
    ...object({ emoji: string, count: { type: 'integer' }, users: { type: 'array', items: string } }),
    description: 'One emoji on a message and who reacted with it, in first-reaction order.',
  },
  AttachmentInfo: {
    ...object({
      attachment_id: { type: 'string', format: 'uuid' },
      name: string,
      content_type: string,
      size: int64,
    }),
    description: 'A file attached to a message (bytes at GET /attachments/{attachment_id}).',
  },
  UnreadConversation: object({ conversation_id: int64, unread: int64, muted: { type: 'boolean' } }),
  ConversationInfo: object({
    conversation_id: int64,
    kind: string, // the catalog's enum replaces it (openApiDocument)
    title: { type: ['string', 'null'] },
    members: { type: 'array', items: string },
    owner: { type: ['string', 'null'] },
    admins: { type: 'array', items: string },
  }),
};

/**
 * The events of GET /events (docs/realtime.md): the `event:` line of a frame and the JSON of its
 * `data:` line. The SQL builds them (functions/chat_private/events.sql, live_signals.sql); the
 * stream-control ones come from server/events/.
 */
const eventData: Record<string, Schema> = {
  'message.created': object({ conversation_id: int64, message: ref('chat_message') }),
  'message.updated': object({ conversation_id: int64, message: ref('chat_message') }),
  'message.deleted': object({ conversation_id: int64, message: ref('chat_message') }),
  'conversation.read': object(
    {
      conversation_id: int64,
      user: string,
      read_seq: int64,
      read_at: { type: ['string', 'null'], format: 'date-time' },
    },
    ['read_at'],
  ),
  'conversation.created': ref('ConversationInfo'),
  'conversation.updated': ref('ConversationInfo'),
  'conversation.deleted': object({ conversation_id: int64 }),
  typing: object(
    { conversation_id: int64, user: string, typing: { type: 'boolean' }, expires_at: dateTime },
    ['expires_at'],
  ),
  'presence.changed': object({
    user: string,
    online: { type: 'boolean' },
    last_seen_at: { type: ['string', 'null'], format: 'date-time' },
  }),
  ready: object({ position: int64 }),
  reset: object({ reason: string }),
  expired: object({ reason: string }),
  shutdown: object({ reason: string }),
};

const eventComponentName = (type: string) =>
  `Event_${type.replace(/(^|\.)(\w)/g, (_, _dot: string, c: string) => c.toUpperCase())}`;

function eventSchemas(): Record<string, Schema> {
  return Object.fromEntries(
    Object.entries(eventData).map(([type, data]) => [
      eventComponentName(type),
      {
        ...object({ event: { const: type }, id: string, data }, ['id']),
        description: `A \`${type}\` frame: \`data\` is the JSON of its data line; \`id\` (the resume position) is absent on ephemeral events.`,
      },
    ]),
  );
}

/** The routes that are not SQL functions (server/app.ts, auth-routes.ts, attachments.ts, events/routes.ts). */
const serverPaths: Record<string, Schema> = {
  '/healthz': {
    get: {
      operationId: 'healthz',
      summary: 'Whether this process can reach its database (503 MCDBX if not).',
      tags: ['operations'],
      security: [],
      responses: {
        200: jsonResponse('Healthy', object({ status: { const: 'ok' }, version: string })),
        ...errorResponses,
      },
    },
  },
  '/auth/token': {
    post: {
      operationId: 'auth_token',
      summary: 'Exchanges a user id and password (HTTP Basic) for a short-lived Microchatter token.',
      tags: ['auth'],
      security: [{ basic: [] }],
      responses: { 200: jsonResponse('A token', ref('Token')), ...errorResponses },
    },
  },
  '/admin/rpc/issue_token': {
    post: {
      operationId: 'issue_token',
      summary: "Mints a token for a user, for the site's backend (admin only).",
      tags: ['admin'],
      security: [{ bearer: [] }],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              additionalProperties: false,
              properties: { user_id: string, ttl_seconds: { type: ['integer', 'null'] } },
              required: ['user_id'],
            },
          },
        },
      },
      responses: { 200: jsonResponse('A token', ref('Token')), ...errorResponses },
    },
  },
  '/events/ticket': {
    post: {
      operationId: 'events_ticket',
      summary:
        'A single-use ticket (60 s) that opens one GET /events stream: for EventSource, which cannot send headers.',
      tags: ['realtime'],
      security: userSecurity,
      responses: {
        200: jsonResponse('A ticket', object({ ticket: string, expires_at: dateTime })),
        ...errorResponses,
      },
    },
  },
  '/events': {
    get: {
      operationId: 'events',
      summary:
        "The user's live events as Server-Sent Events, resumed after `Last-Event-ID` (docs/realtime.md).",
      description:
        'One frame per event: `id:` (the log position to resume from; absent on ephemeral events such as `typing`), `event:` (its type) and one `data:` line of JSON. The response schema describes one frame. A `:` comment line comes every heartbeat interval.',
      tags: ['realtime'],
      security: userSecurity,
      parameters: [
        {
          name: 'ticket',
          in: 'query',
          required: false,
          description: 'From POST /events/ticket, in place of the Authorization header.',
          schema: string,
        },
        {
          name: 'last_event_id',
          in: 'query',
          required: false,
          description: 'Resume after this event id (what EventSource cannot send as a header).',
          schema: string,
        },
        { name: 'Last-Event-ID', in: 'header', required: false, schema: string },
      ],
      responses: {
        200: {
          description: 'The stream',
          content: {
            'text/event-stream': {
              schema: { oneOf: Object.keys(eventData).map((type) => ref(eventComponentName(type))) },
            },
          },
        },
        ...errorResponses,
      },
    },
  },
  '/attachments': {
    post: {
      operationId: 'upload_attachment',
      summary: 'Uploads a file as the raw request body; attach it with send_message(attachments).',
      description:
        'The body is the bytes (not multipart); Content-Type is kept as the file type. Limited to MICROCHATTER_ATTACHMENT_LIMIT bytes (413 MCTOO).',
      tags: ['attachments'],
      security: userSecurity,
      parameters: [
        { name: 'name', in: 'query', required: true, description: 'The file name.', schema: string },
      ],
      requestBody: {
        required: true,
        content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
      },
      responses: { 201: jsonResponse('Stored', ref('AttachmentInfo')), ...errorResponses },
    },
  },
  '/attachments/{attachment_id}': {
    get: {
      operationId: 'download_attachment',
      summary: "A file's bytes, for members of a conversation it was sent in (and its uploader).",
      description: 'Single byte ranges (Range, If-Range) and ETag revalidation are supported.',
      tags: ['attachments'],
      security: userSecurity,
      parameters: [
        { name: 'attachment_id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
        { name: 'Range', in: 'header', required: false, schema: string },
      ],
      responses: {
        200: {
          description: 'The bytes',
          content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
        },
        206: {
          description: 'The requested range',
          content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
        },
        304: { description: 'Not modified (If-None-Match)' },
        416: { description: 'The range is outside the file' },
        ...errorResponses,
      },
    },
  },
};

export function openApiDocument(catalog: Catalog): Schema {
  const paths: Record<string, Schema> = { ...serverPaths };
  const components: Record<string, Schema> = { ...sharedSchemas, ...eventSchemas() };
  for (const fn of catalog.functions) {
    const path = fn.schema === 'chat' ? `/rpc/${fn.name}` : `/admin/rpc/${fn.name}`;
    paths[path] =
      fn.readOnly && fn.schema === 'chat'
        ? { get: operation(fn, 'get'), post: operation(fn, 'post') }
        : { post: operation(fn, 'post') };
    const r = fn.result;
    if ((r.kind === 'row' || r.kind === 'rows') && r.typeName)
      components[componentName(r.typeName)] = objectSchema(r.typeName, r.columns);
  }
  // The events carry a conversation's kind too: the same closed set as chat.conversation's.
  const conversation = components.chat_conversation as { properties?: { kind?: Schema } } | undefined;
  const info = components.ConversationInfo as { properties: Record<string, Schema> };
  if (conversation?.properties?.kind) {
    const { description: _, ...kind } = conversation.properties.kind;
    components.ConversationInfo = { ...info, properties: { ...info.properties, kind } };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Microchatter',
      version,
      license: { name: 'MIT', identifier: 'MIT' },
      description:
        "Chat for a website's users. Every endpoint calls the SQL function of the same name; the acting user comes from the credentials. Errors: docs/errors.md.",
    },
    // Relative: the server that serves this document (behind a proxy, the address the client used).
    servers: [{ url: '/', description: 'This Microchatter server' }],
    paths,
    components: {
      schemas: components,
      responses: {
        Error: {
          description: 'A refusal: see the code (docs/errors.md)',
          content: { 'application/json': { schema: ref('Error') } },
        },
      },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (or the admin token on /admin)' },
        basic: { type: 'http', scheme: 'basic' },
      },
    },
  };
}
