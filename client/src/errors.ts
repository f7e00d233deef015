import type { ErrorCode } from './generated/api.js';

/**
 * A refusal from the server: `code` is the five-letter code of docs/errors.md (assert on it, not on
 * `message`), `status` the HTTP status. `code` is null when the answer was not Microchatter's error
 * body (a proxy's 502 page, say). `retryAfter` is the `Retry-After` header in seconds, when given.
 */
export class MicrochatterError extends Error {
  readonly code: ErrorCode | null;
  readonly status: number;
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode | null, status: number, message: string, retryAfter?: number) {
    super(message);
    this.name = 'MicrochatterError';
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** Reads a failed response into a MicrochatterError. */
export async function errorFrom(response: Response): Promise<MicrochatterError> {
  const retry = Number(response.headers.get('retry-after'));
  const retryAfter = Number.isFinite(retry) && retry > 0 ? retry : undefined;
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const { code, message } = body.error ?? {};
    if (typeof code === 'string' && /^[A-Z0-9]{5}$/.test(code)) {
      const text = typeof message === 'string' ? message : code;
      return new MicrochatterError(code as ErrorCode, response.status, text, retryAfter);
    }
  } catch {
    // Not JSON: fall through.
  }
  return new MicrochatterError(null, response.status, `HTTP ${response.status}`, retryAfter);
}
