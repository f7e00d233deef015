/**
 * Attachments' bytes over HTTP, the one thing about them that cannot be SQL: `POST /attachments?name=`
 * streams a raw body in, `GET /attachments/<id>` streams it out. Who may read what, which names are
 * acceptable, which uploads a message may carry and when unattached ones go are rules of the
 * chat_server attachment functions; this module moves bytes between the socket and those functions.
 */
import { type Context, Hono } from 'hono';
import {
  attachmentHeaders,
  attachmentStream,
  hasRegularChunks,
  requestedRange,
  type StoredAttachment,
} from './attachments/download.ts';
import { refuseDeclaredLength, storeUpload, uploadName } from './attachments/upload.ts';
import { type Sql, sentWithin } from './db.ts';
import { ApiError } from './errors.ts';

export interface AttachmentRoutesOptions {
  sql: Sql;
  /** The calling user's id from the request's credentials (admin credentials refused). */
  userIdOf: (c: Context) => Promise<string>;
  /** Largest upload in bytes. */
  limit: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Someone else's upload, a deleted one and one that never was all look alike: never confirm existence. */
const notFound = (id: string) => new ApiError('MCNFD', `no attachment ${id}`);

export function attachmentRoutes({ sql, userIdOf, limit }: AttachmentRoutesOptions): Hono {
  const app = new Hono();

  app.post('/attachments', async (c) => {
    refuseDeclaredLength(c, limit);
    const uploader = await userIdOf(c);
    const attachment = await storeUpload(c, sql, uploader, uploadName(c), limit);
    return c.json(attachment, 201);
  });

  app.get('/attachments/:id', async (c) => {
    const reader = await userIdOf(c);
    const id = c.req.param('id');
    if (!UUID.test(id)) throw notFound(id);
    const [attachment] = await sentWithin(
      sql<StoredAttachment[]>`select * from chat_server.attachment_for_reader(${reader}, ${id}::uuid)`,
    );
    if (!attachment) throw notFound(id);
    const etag = `"${id.toLowerCase()}"`;
    const headers = attachmentHeaders(attachment, etag);
    if (c.req.header('if-none-match')?.includes(etag)) return c.body(null, 304, headers);

    const ifRange = c.req.header('if-range');
    const range =
      (ifRange === undefined || ifRange === etag) && hasRegularChunks(attachment)
        ? requestedRange(c.req.header('range'), attachment.size)
        : undefined;
    if (range === 'unsatisfiable') {
      return c.body(null, 416, { ...headers, 'Content-Range': `bytes */${attachment.size}` });
    }
    const stream = attachmentStream(sql, id, attachment, range);
    if (!range) return c.body(stream, 200, { ...headers, 'Content-Length': String(attachment.size) });
    return c.body(stream, 206, {
      ...headers,
      'Content-Length': String(range.end - range.start + 1),
      'Content-Range': `bytes ${range.start}-${range.end}/${attachment.size}`,
    });
  });

  return app;
}
