/**
 * The one place errors become HTTP answers: `{"error": {"code", "message"}}`.
 *
 * Refusals are raised in SQL with our own SQLSTATEs (docs/errors.md); the HTTP layer adds a few codes
 * of its own for what never reaches SQL. Nothing else a client sees comes from an exception: SQL text,
 * stack traces and PostgreSQL's own messages stay in the server log.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import postgres from 'postgres';
import { log } from './logger.ts';
import { requestInfo } from './request-log.ts';

/** SQLSTATE (ours, raised by the SQL API, or the HTTP layer's) → HTTP status. */
export const statusByCode = {
  // Raised in SQL.
  MCARG: 400,
  MCLIM: 400,
  MCEMB: 400,
  MCHSH: 400,
  MCSLF: 400,
  MCLNG: 413,
  MCUNU: 404,
  MCNCV: 404,
  MCNMB: 403,
  MCFRB: 403,
  MCBLK: 403,
  MCKND: 409,
  MCFUL: 409,
  MCEXS: 409,
  MCRST: 409,
  MCANM: 400,
  MCAEM: 400,
  MCATT: 404,
  MCNMS: 404,
  MCOWN: 403,
  MCDEL: 409,
  MCLAT: 409,
  MCEMO: 400,
  MCRXN: 409,
  MCURL: 400,
  MCNWH: 404,
  MCSUS: 403,
  MCMOD: 403,
  MCRPT: 409,
  MCNRP: 404,
  // Raised by the HTTP layer.
  MCJSN: 400,
  MCAUT: 401,
  MCADM: 403,
  MCUSR: 403,
  MCNFD: 404,
  MCMTH: 405,
  MCTOO: 413,
  MCTYP: 415,
  MCRAT: 429,
  MCINT: 500,
  MCDBX: 503,
  MCBSY: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof statusByCode;

/** A refusal decided in TypeScript (bad JSON, missing credentials, …). */
export class ApiError extends Error {
  readonly code: ErrorCode;
  /** Extra response headers, e.g. Retry-After on 429. */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.code = code;
    this.headers = headers;
  }
}

/**
 * An error SQL raised and caught itself, handed over as data: one send's refusal in a batch of sends
 * (server/send-batch.ts). It becomes the same answer as the error raised directly would.
 */
export class SqlRefusal extends Error {
  readonly code: string;
  readonly hint: string | undefined;

  constructor(code: string, message: string, hint?: string | null) {
    super(message);
    this.code = code;
    this.hint = hint ?? undefined;
  }
}

/** PostgreSQL classes that mean the database is unavailable rather than the request wrong. */
const unavailableClasses = ['08', '53', '57'];

function fromPostgres(error: { code: string; message: string; hint?: string | undefined }): ApiError {
  if (error.code in statusByCode) {
    // A refusal that passes with time says when in its hint ("retry after 12 s").
    const retryAfter = /^retry after (\d+) s$/.exec(error.hint ?? '')?.[1];
    return new ApiError(
      error.code as ErrorCode,
      error.message,
      retryAfter ? { 'Retry-After': retryAfter } : {},
    );
  }
  // Data exceptions (class 22: a value out of range, an invalid text representation) are the
  // client's values that slipped past argument checking: their wording is PostgreSQL's, so say less.
  if (error.code.startsWith('22')) return new ApiError('MCARG', 'an argument has an invalid value');
  // Program limits (class 54: stack depth, too many arguments) are reached only by absurd values.
  if (error.code.startsWith('54'))
    return new ApiError('MCLIM', 'an argument is too large or too deeply nested');
  if (unavailableClasses.some((prefix) => error.code.startsWith(prefix))) {
    return new ApiError('MCDBX', 'the database is unavailable, try again');
  }
  return new ApiError('MCINT', 'internal error');
}

/** A connection to the database lost or refused, not just any system error (ENOENT is not one). */
export function isLostConnection(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return (
    typeof code === 'string' &&
    /^(ECONNREFUSED|ECONNRESET|ECONNABORTED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|CONNECT_TIMEOUT|CONNECTION_\w+)$/.test(
      code,
    )
  );
}

/**
 * A lost database connection must not take the process down: once in about ten CI runs of the
 * restart test (test/faults/database-restart.test.ts) a connection error (ECONNREFUSED) reached no
 * handler while the database was away, from a source not yet found, and Node's default ended the
 * server. Such a failure is logged and the process goes on (requests answer 503 until the database
 * is back); any other unhandled rejection still ends the process (or the job runner's thread, which
 * ends it too), as Node would.
 */
export function carryOnAfterLostConnections(): void {
  process.on('unhandledRejection', (error: unknown) => {
    if (!isLostConnection(error)) throw error;
    log.error({ err: error }, 'a database connection failed outside any request; carrying on');
  });
}

/** Connection failures of the client library (ECONNREFUSED, CONNECT_TIMEOUT, …) have no SQLSTATE. */
function isConnectionFailure(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^(E[A-Z]+|CONNECT_TIMEOUT|CONNECTION_\w+)$/.test(code);
}

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof postgres.PostgresError || error instanceof SqlRefusal) return fromPostgres(error);
  if (error instanceof HTTPException) {
    const code = error.status === 413 ? 'MCTOO' : error.status === 401 ? 'MCAUT' : 'MCJSN';
    return new ApiError(code, error.message || 'bad request');
  }
  if (isConnectionFailure(error)) return new ApiError('MCDBX', 'the database is unavailable, try again');
  return new ApiError('MCINT', 'internal error');
}

function describeFailure(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return [code, message].filter((part) => typeof part === 'string').join(': ');
}

export function errorResponse(c: Context, error: unknown): Response {
  const apiError = toApiError(error);
  // Unexpected failures go to the log; refusals decided on purpose (ApiError) do not. An unreachable
  // database is one line (it says all there is); a bug gets its stack.
  if (!(error instanceof ApiError)) {
    const { log } = requestInfo(c);
    if (apiError.code === 'MCINT') log.error({ err: error }, 'request failed');
    else if (apiError.code === 'MCDBX') log.warn({ reason: describeFailure(error) }, 'database unavailable');
  }
  for (const [name, value] of Object.entries(apiError.headers)) c.header(name, value);
  return c.json({ error: { code: apiError.code, message: apiError.message } }, statusByCode[apiError.code]);
}
