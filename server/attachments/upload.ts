/**
 * `POST /attachments`: the request body goes to PostgreSQL as it arrives, in chunks of CHUNK_BYTES
 * (chat_server.append_attachment_chunk), so a process holds at most two chunks of an upload however
 * large the file. Refusals follow server/body-limit.ts: an over-long Content-Length is answered from
 * the header alone, an over-long chunked body is counted and the excess discarded, and a body too
 * large to be worth discarding gets `Connection: close` before the socket goes.
 */
import type { Context } from 'hono';
import { closeAfterAnswer, DISCARD_BUDGET } from '../body-limit.ts';
import { type Sql, sentWithin } from '../db.ts';
import { ApiError } from '../errors.ts';
import { requestInfo } from '../request-log.ts';

/** Bytes per stored chunk: large enough that a round trip per chunk costs little, small to hold. */
export const CHUNK_BYTES = 256 * 1024;

/** Two appends at once keep both the database and this process busy (each holds a chunk). */
const APPENDS_IN_FLIGHT = 2;

export interface UploadedAttachment {
  attachment_id: string;
  name: string;
  content_type: string;
  size: number;
}

function tooLarge(limit: number): ApiError {
  return new ApiError('MCTOO', `attachments are limited to ${limit} bytes`);
}

/**
 * Refuses a declared length over the limit without touching the body (@hono/node-server then discards
 * it). Must run before anything opens the body.
 */
export function refuseDeclaredLength(c: Context, limit: number): void {
  const declared = c.req.header('content-length');
  if (declared === undefined || c.req.header('transfer-encoding') !== undefined) return;
  const length = Number(declared);
  if (!(length > limit)) return;
  if (length > DISCARD_BUDGET) closeAfterAnswer(c);
  throw tooLarge(limit);
}

/** The file name from `?name=`: PostgreSQL judges it, except what text cannot carry to it (NUL). */
export function uploadName(c: Context): string {
  const name = c.req.query('name');
  if (name === undefined || name === '') {
    throw new ApiError('MCANM', 'name the file: POST /attachments?name=<file name>');
  }
  if (name.includes('\u0000')) throw new ApiError('MCANM', 'a file name cannot contain NUL');
  return name;
}

/** Reads what is left of a refused body, up to the discard budget; past it, closes the connection. */
async function discardRest(c: Context, reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  let discarded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    discarded += value.length;
    if (discarded > DISCARD_BUDGET) {
      closeAfterAnswer(c);
      void reader.cancel().catch(() => undefined);
      return;
    }
  }
}

/**
 * Stores the request body as a new attachment of `uploader` and returns it. Appends are in flight while
 * the next chunks are read, so the network and the database work at the same time; a failure (limit,
 * client gone, database) abandons the upload, whose rows prune_attachments would otherwise remove.
 *
 * Chunks travel as base64 text, decoded by PostgreSQL: the driver sends a bytea parameter as hex,
 * after copying the buffer, so every 256 KiB chunk would leave about 2 MiB of garbage behind, and V8
 * lets tens of MiB of it pile up before collecting; base64 of one reused staging buffer leaves a
 * third of that.
 */
export async function storeUpload(
  c: Context,
  sql: Sql,
  uploader: string,
  name: string,
  limit: number,
): Promise<UploadedAttachment> {
  const contentType = c.req.header('content-type') ?? 'application/octet-stream';
  const [begun] = await sentWithin(
    sql<{ id: string }[]>`select chat_server.begin_attachment(${uploader}, ${name}, ${contentType}) as id`,
  );
  if (!begun) throw new Error('begin_attachment returned no row');
  const id = begun.id;
  let failure: unknown;
  // Appends on their way, oldest first: at most APPENDS_IN_FLIGHT, on as many pooled connections.
  const inFlight: Promise<void>[] = [];
  const writing = () => Promise.all(inFlight);
  let chunk = 0;
  const append = async (data: Buffer) => {
    // Encoded now, so the staging buffer may be refilled while the append is on its way.
    const encoded = data.toString('base64');
    if (inFlight.length >= APPENDS_IN_FLIGHT) await inFlight.shift();
    if (failure) throw failure;
    const index = chunk++;
    // Caught here and rethrown at the next append or the end, so a rejection never goes unheard.
    inFlight.push(
      sentWithin(
        sql`select chat_server.append_attachment_chunk(${id}::uuid, ${index}::integer, decode(${encoded}, 'base64'))`,
      ).then(
        () => undefined,
        (error: unknown) => {
          failure ??= error;
        },
      ),
    );
  };

  try {
    const reader = c.req.raw.body?.getReader();
    const staging = Buffer.allocUnsafe(CHUNK_BYTES);
    let staged = 0;
    let size = 0;
    while (reader) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) {
        await discardRest(c, reader);
        throw tooLarge(limit);
      }
      for (let at = 0; at < value.length; ) {
        const taken = Math.min(CHUNK_BYTES - staged, value.length - at);
        staging.set(value.subarray(at, at + taken), staged);
        staged += taken;
        at += taken;
        if (staged === CHUNK_BYTES) {
          await append(staging);
          staged = 0;
        }
      }
    }
    if (staged > 0) await append(staging.subarray(0, staged));
    await writing();
    if (failure) throw failure;
    // An empty body is refused here (MCAEM), leaving the upload unfinished for the abandon below.
    const [finished] = await sentWithin(
      sql<
        { attachment: UploadedAttachment }[]
      >`select chat_server.finish_attachment(${id}::uuid) as attachment`,
    );
    if (!finished) throw new Error('finish_attachment returned no row');
    return finished.attachment;
  } catch (error) {
    await writing();
    await sentWithin(sql`select chat_server.abandon_attachment(${id}::uuid)`).catch((reason: unknown) =>
      requestInfo(c).log.warn({ reason: (reason as Error).message }, 'abandoning an upload failed'),
    );
    throw error;
  }
}
