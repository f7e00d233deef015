/**
 * GET /events: one Server-Sent Events stream per connection, many per user (their devices).
 * POST /events/ticket: a single-use ticket for browsers, whose EventSource cannot send headers.
 */
import type { ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { type Context, Hono } from 'hono';
import postgres from 'postgres';
import type { Principal } from '../auth.ts';
import type { Sql } from '../db.ts';
import { ApiError, errorResponse } from '../errors.ts';
import { requestInfo } from '../request-log.ts';
import { formatFrame, type Hub, type Stream } from './hub.ts';
import type { Relay } from './relay.ts';

export interface EventRoutesOptions {
  sql: Sql;
  /** Who is calling, from the request's credentials (the same check as every other endpoint). */
  principalOf: (c: Context) => Promise<Principal>;
  hub: Hub;
  relay: Relay;
  /** Streams one user may hold on this process. */
  maxStreamsPerUser: number;
  /** Whether new streams are accepted (false once shutdown began). */
  accepting: () => boolean;
  /** Origins allowed by CORS: the stream writes its own headers, so it repeats what the middleware does. */
  corsOrigins: readonly string[];
}

interface Caller {
  userId: string;
  /** Epoch milliseconds when the credential (token or ticket's token) expires. */
  expiresAt: number | undefined;
}

const REPLAY_BATCH = 1000;

/** The raw response under @hono/node-server, which the stream writes to directly (see hub.ts). */
function nodeResponse(c: Context): ServerResponse {
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (!outgoing) throw new ApiError('MCINT', 'event streams need the Node HTTP server');
  return outgoing;
}

export function eventRoutes(options: EventRoutesOptions): Hono {
  const { sql, principalOf, hub, relay } = options;
  const app = new Hono();
  app.onError((error, c) => errorResponse(c, error));

  const authenticate = async (c: Context): Promise<Caller> => {
    const principal = await principalOf(c);
    if (principal.kind !== 'user')
      throw new ApiError('MCUSR', 'event streams are for users, not the admin token');
    return {
      userId: principal.userId,
      expiresAt: principal.expiresAt ? principal.expiresAt * 1000 : undefined,
    };
  };

  const redeem = async (ticket: string): Promise<Caller> => {
    const [row] = await sql<{ user_id: string; credential_expires_at: string | null }[]>`
      select * from chat_server.redeem_stream_ticket(${ticket})`;
    if (!row) throw new ApiError('MCAUT', 'unknown, used or expired ticket');
    return {
      userId: row.user_id,
      expiresAt: row.credential_expires_at ? Date.parse(row.credential_expires_at) : undefined,
    };
  };

  app.post('/events/ticket', async (c) => {
    const caller = await authenticate(c);
    const expiresAt = caller.expiresAt ? new Date(caller.expiresAt) : null;
    const [row] = await sql<{ ticket: string; expires_at: Date }[]>`
      select * from chat_server.create_stream_ticket(${caller.userId}, ${expiresAt})`;
    return c.json(row);
  });

  /** Replays what the user missed since `after`; false when the cursor is unusable (reset). */
  const replay = async (stream: Stream, after: number): Promise<boolean> => {
    let position = after;
    for (;;) {
      let rows: { position: number; type: string; payload: unknown }[];
      try {
        rows =
          await sql`select * from chat_server.user_events(${stream.userId}, ${position}, ${REPLAY_BATCH})`;
      } catch (error) {
        if (error instanceof postgres.PostgresError && error.code === 'MCRST') return false;
        throw error;
      }
      for (const row of rows) {
        hub.replay(stream, row.position, formatFrame(row.type, row.payload, row.position));
        // A long replay goes at the client's pace instead of piling up in memory.
        if (!(await hub.drained(stream))) return true;
      }
      if (rows.length < REPLAY_BATCH) return true;
      position = rows[rows.length - 1]?.position ?? position;
    }
  };

  /** Last-Event-ID (or ?last_event_id=): a position, or null for "none given", or NaN for garbage. */
  const requestedCursor = (c: Context): number | null => {
    const raw = c.req.header('last-event-id') || c.req.query('last_event_id');
    if (!raw) return null;
    return /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
  };

  app.get('/events', async (c) => {
    if (!options.accepting()) throw new ApiError('MCDBX', 'the server is shutting down; reconnect');
    const outgoing = nodeResponse(c);
    const ticket = c.req.query('ticket');
    const caller = ticket ? await redeem(ticket) : await authenticate(c);
    // A token within its clock tolerance, or a ticket made from one that has expired since, would
    // otherwise open a stream only to close it at once after replaying.
    if (caller.expiresAt !== undefined && caller.expiresAt <= Date.now()) {
      throw new ApiError('MCAUT', 'the credential has expired: get a fresh token');
    }
    if (hub.streamsOf(caller.userId) >= options.maxStreamsPerUser) {
      throw new ApiError('MCRAT', `at most ${options.maxStreamsPerUser} event streams per user`, {
        'Retry-After': '10',
      });
    }
    const after = requestedCursor(c);

    // Registered before reading the log, so nothing committed meanwhile falls between the two: events
    // that arrive during the replay are held, and sent after it unless the replay already sent them.
    const origin = c.req.header('origin');
    const cors: Record<string, string> =
      origin && options.corsOrigins.includes(origin)
        ? {
            'Access-Control-Allow-Origin': origin,
            'Access-Control-Allow-Credentials': 'true',
            Vary: 'Origin',
          }
        : {};
    const stream = hub.open(caller.userId, outgoing, cors);
    let liveFrom: number;
    try {
      liveFrom = await relay.livePosition();
    } catch (error) {
      // As for a failed replay below: the headers are out, the client reconnects with its cursor.
      requestInfo(c).log.error({ err: error }, 'event stream could not start');
      hub.end(stream);
      return RESPONSE_ALREADY_SENT;
    }
    stream.position = after === null || Number.isNaN(after) ? liveFrom : after;
    if (after !== null) {
      let usable: boolean;
      try {
        usable = !Number.isNaN(after) && (await replay(stream, after));
      } catch (error) {
        // Headers are out: all that is left is to hang up; the client reconnects with its cursor.
        requestInfo(c).log.error({ err: error }, 'event replay failed');
        hub.end(stream);
        return RESPONSE_ALREADY_SENT;
      }
      if (!usable) {
        // The cursor is too old or unknown: the client must refetch its state through the RPC API.
        stream.position = liveFrom;
        hub.replay(stream, liveFrom, formatFrame('reset', { reason: 'cursor unknown or expired' }, liveFrom));
      }
    }
    hub.goLive(stream);
    hub.replay(stream, stream.position, formatFrame('ready', { position: stream.position }, stream.position));

    if (caller.expiresAt !== undefined) {
      const timer = setTimeout(
        () => hub.end(stream, formatFrame('expired', { reason: 'credential expired' })),
        Math.max(0, caller.expiresAt - Date.now()),
      );
      timer.unref();
      outgoing.once('close', () => clearTimeout(timer));
    }
    return RESPONSE_ALREADY_SENT;
  });

  return app;
}
