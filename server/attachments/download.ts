/**
 * `GET /attachments/<id>`: the stored chunks streamed out one at a time as the client takes them
 * (chat_server.read_attachment_chunk), with the headers that keep an uploaded file from acting as a
 * page of our origin, and single byte ranges.
 */
import { type Sql, sentWithin } from '../db.ts';
import { CHUNK_BYTES } from './upload.ts';

/** What chat_server.attachment_for_reader returns. */
export interface StoredAttachment {
  name: string;
  content_type: string;
  size: number;
  chunks: number;
}

/**
 * Raster images a browser only ever draws, shown in place; everything else (HTML, SVG, PDF, text…)
 * is a download. With nosniff and the sandboxing CSP, not even a mislabelled file runs script.
 */
const INLINE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** The bytes of an id never change, so a reader's browser may keep them; `private`: never a shared cache. */
const CACHE_CONTROL = 'private, max-age=86400';

/** RFC 8187 `filename*`: percent-encoded UTF-8, where only attr-chars stay as they are. */
function encodedFileName(name: string): string {
  return encodeURIComponent(name).replace(
    /['()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export function attachmentHeaders(attachment: StoredAttachment, etag: string): Record<string, string> {
  const disposition = INLINE_TYPES.has(attachment.content_type.toLowerCase()) ? 'inline' : 'attachment';
  return {
    'Content-Type': attachment.content_type,
    'Content-Disposition': `${disposition}; filename*=UTF-8''${encodedFileName(attachment.name)}`,
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; sandbox",
    'Cache-Control': CACHE_CONTROL,
    'Accept-Ranges': 'bytes',
    ETag: etag,
  };
}

/** Inclusive byte offsets. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The one range of a `Range: bytes=…` header: a range, `'unsatisfiable'` (416), or undefined, meaning
 * the whole file (no header, another unit, several ranges, or a header that does not parse: a server
 * may always answer those with everything).
 */
export function requestedRange(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    // A suffix: the last N bytes.
    const length = Number(last);
    if (length === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/**
 * Whether every chunk but the last holds exactly CHUNK_BYTES, as the server writes them; only then can
 * a range be found without reading what comes before it. (Chunks appended some other way, from psql,
 * are still served whole.)
 */
export function hasRegularChunks(attachment: StoredAttachment): boolean {
  return attachment.chunks === Math.ceil(attachment.size / CHUNK_BYTES);
}

/**
 * The bytes `range` of the attachment (all of them when absent), read chunk by chunk as the stream is
 * pulled: the response's backpressure keeps at most one chunk queued ahead of the socket. Bytes that
 * do not add up to the stored size end the stream with an error, so the client sees a cut response
 * rather than a wrong file.
 */
export function attachmentStream(
  sql: Sql,
  id: string,
  attachment: StoredAttachment,
  range: ByteRange | undefined,
): ReadableStream<Uint8Array> {
  const { start, end } = range ?? { start: 0, end: attachment.size - 1 };
  let chunk = range ? Math.floor(start / CHUNK_BYTES) : 0;
  const lastChunk = range ? Math.floor(end / CHUNK_BYTES) : attachment.chunks - 1;
  let offset = chunk * CHUNK_BYTES;
  // As base64 text: the driver's bytea parsing goes through a hex string twice the size.
  const read = (index: number) =>
    sentWithin(
      sql<
        { data: string | null }[]
      >`select encode(chat_server.read_attachment_chunk(${id}::uuid, ${index}::integer), 'base64') as data`,
    ).then(
      ([row]) => (row?.data == null ? undefined : Buffer.from(row.data, 'base64')),
      (error: unknown) => error as Error,
    );
  // The next chunk is asked for while this one goes out, so the database and the socket work at once.
  let next: ReturnType<typeof read> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const data = await (next ?? read(chunk));
      next = chunk < lastChunk ? read(chunk + 1) : undefined;
      if (data instanceof Error) {
        controller.error(data);
        return;
      }
      const isLast = chunk === lastChunk;
      if (!data || (!isLast && range && data.length !== CHUNK_BYTES)) {
        // Gone since the answer began (the message was deleted), or not laid out as expected.
        controller.error(new Error(`attachment ${id}: chunk ${chunk} is missing or of an unexpected size`));
        return;
      }
      const from = Math.max(0, start - offset);
      const to = Math.min(data.length, end + 1 - offset);
      offset += data.length;
      chunk++;
      if (to > from) controller.enqueue(from === 0 && to === data.length ? data : data.subarray(from, to));
      if (isLast) {
        if (offset - 1 < end) controller.error(new Error(`attachment ${id}: fewer bytes than its size`));
        else controller.close();
      }
    },
    cancel() {
      // The client went away: a chunk already asked for is dropped when it comes.
      next = undefined;
    },
  });
}
