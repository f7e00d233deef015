/**
 * OpenAPI 3.1 for the RPC endpoints, generated from the same catalog that routes them: the SQL
 * function comments are the descriptions, the argument and row types the schemas.
 */
import type { ApiFunction, Argument, Catalog, Column, ValueType } from './catalog.ts';
import { statusByCode } from './errors.ts';

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

const nullable = (schema: Schema): Schema =>
  Object.keys(schema).length === 0 ? schema : { ...schema, type: [schema.type, 'null'] };

function objectSchema(columns: Column[]): Schema {
  return {
    type: 'object',
    properties: Object.fromEntries(columns.map((c) => [c.name, nullable(schemaByType[c.type])])),
  };
}

/** Named row types (chat.message, …) become shared components; `chat.message` → `chat_message`. */
const componentName = (typeName: string) => typeName.replace(/\W/g, '_');

function resultSchema(fn: ApiFunction): Schema | null {
  const r = fn.result;
  if (r.kind === 'none') return null;
  if (r.kind === 'value') return schemaByType[r.type];
  const row = r.typeName
    ? { $ref: `#/components/schemas/${componentName(r.typeName)}` }
    : objectSchema(r.columns);
  return r.kind === 'rows' ? { type: 'array', items: row } : row;
}

function argumentsSchema(args: Argument[]): Schema {
  return {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(args.map((a) => [a.name, schemaByType[a.type]])),
    required: args.filter((a) => !a.optional).map((a) => a.name),
  };
}

const errorStatuses = [...new Set(Object.values(statusByCode))].filter((s) => s >= 400).sort();

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
    security: fn.schema === 'chat' ? [{ bearer: [] }, { basic: [] }] : [{ bearer: [] }],
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
  return { ...base, requestBody: { content: { 'application/json': { schema: argumentsSchema(fn.args) } } } };
}

const jsonResponse = (description: string, schema: Schema) => ({
  description,
  content: { 'application/json': { schema } },
});
const errorResponses = Object.fromEntries(
  errorStatuses.map((s) => [s, { $ref: '#/components/responses/Error' }]),
);
const tokenSchema = {
  type: 'object',
  properties: { token: { type: 'string' }, expires_at: { type: 'string', format: 'date-time' } },
};

/** The routes that are not SQL functions (server/app.ts, server/auth-routes.ts). */
const serverPaths: Record<string, Schema> = {
  '/healthz': {
    get: {
      operationId: 'healthz',
      summary: 'Whether this process can reach its database (503 MCDBX if not).',
      tags: ['operations'],
      security: [],
      responses: {
        200: jsonResponse('Healthy', { type: 'object', properties: { status: { const: 'ok' } } }),
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
      responses: { 200: jsonResponse('A token', tokenSchema), ...errorResponses },
    },
  },
  '/admin/rpc/issue_token': {
    post: {
      operationId: 'issue_token',
      summary: "Mints a token for a user, for the site's backend (admin only).",
      tags: ['admin'],
      security: [{ bearer: [] }],
      requestBody: {
        content: {
          'application/json': {
            schema: {
              type: 'object',
              additionalProperties: false,
              properties: { user_id: { type: 'string' }, ttl_seconds: { type: 'integer' } },
              required: ['user_id'],
            },
          },
        },
      },
      responses: { 200: jsonResponse('A token', tokenSchema), ...errorResponses },
    },
  },
};

export function openApiDocument(catalog: Catalog): Schema {
  const paths: Record<string, Schema> = { ...serverPaths };
  const components: Record<string, Schema> = {
    Error: {
      type: 'object',
      properties: {
        error: {
          type: 'object',
          properties: {
            code: { type: 'string', enum: Object.keys(statusByCode) },
            message: { type: 'string' },
          },
          required: ['code', 'message'],
        },
      },
    },
  };
  for (const fn of catalog.functions) {
    const path = fn.schema === 'chat' ? `/rpc/${fn.name}` : `/admin/rpc/${fn.name}`;
    paths[path] =
      fn.readOnly && fn.schema === 'chat'
        ? { get: operation(fn, 'get'), post: operation(fn, 'post') }
        : { post: operation(fn, 'post') };
    const r = fn.result;
    if ((r.kind === 'row' || r.kind === 'rows') && r.typeName)
      components[componentName(r.typeName)] = objectSchema(r.columns);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Microchatter',
      version: '1',
      description:
        "Chat for a website's users. Every endpoint calls the SQL function of the same name; the acting user comes from the credentials. Errors: docs/errors.md.",
    },
    paths,
    components: {
      schemas: components,
      responses: {
        Error: {
          description: 'A refusal: see the code (docs/errors.md)',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (or the admin token on /admin)' },
        basic: { type: 'http', scheme: 'basic' },
      },
    },
  };
}
