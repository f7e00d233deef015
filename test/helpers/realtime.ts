/**
 * A real server on a real port, with event streams, over a fresh test database; and an event
 * stream client built on the `eventsource` package, as a browser would use it.
 */
import { EventSource } from 'eventsource';
import { createApp } from '../../server/app.ts';
import { type Realtime, startRealtime } from '../../server/events/realtime.ts';
import { type RunningServer, startHttpServer } from '../../server/http-server.ts';
import { flushLog } from '../../server/logger.ts';
import { type TestApp, testApp } from './http.ts';

export interface StreamEvent {
  type: string;
  id: string;
  data: Record<string, unknown>;
}

export interface StreamClient {
  events: StreamEvent[];
  /** Resolves with the events so far once `predicate` holds (rejects after `timeoutMs`). */
  until(predicate: (events: StreamEvent[]) => boolean, timeoutMs?: number): Promise<StreamEvent[]>;
  /** Message bodies received, in order. */
  bodies(): string[];
  lastEventId(): string;
  close(): void;
  source: EventSource;
}

export interface RealtimeServer extends TestApp {
  url: string;
  realtime: Realtime;
  server: RunningServer;
  /** Opens a stream as `userId` (Bearer token), optionally resuming after a cursor. */
  stream(userId: string, options?: { after?: string; url?: string; token?: string }): Promise<StreamClient>;
  /** Calls an RPC endpoint over real HTTP. */
  rpc(userId: string, name: string, body?: unknown): Promise<Record<string, unknown>>;
}

const TYPES = [
  'message.created',
  'conversation.created',
  'conversation.updated',
  'conversation.read',
  'conversation.deleted',
  'ready',
  'reset',
  'expired',
  'shutdown',
];

export function streamClient(
  url: string,
  headers: Record<string, string> = {},
  options: {
    /**
     * Sent as the `Last-Event-ID` header on the first connection, as a browser resuming does; on its
     * own reconnects EventSource sends the last id it saw instead.
     */
    lastEventId?: string;
  } = {},
): Promise<StreamClient> {
  const events: StreamEvent[] = [];
  const waiters = new Set<() => void>();
  const source = new EventSource(url, {
    fetch: (input, init) => {
      const merged: Record<string, string> = { ...(init?.headers as Record<string, string>), ...headers };
      if (options.lastEventId !== undefined && merged['Last-Event-ID'] === undefined) {
        merged['Last-Event-ID'] = options.lastEventId;
      }
      return fetch(input, { ...init, headers: merged });
    },
  });
  for (const type of TYPES) {
    source.addEventListener(type, (event) => {
      events.push({ type, id: event.lastEventId, data: JSON.parse(event.data) });
      for (const wake of waiters) wake();
    });
  }
  const client: StreamClient = {
    events,
    source,
    until(predicate, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(events)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(events);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`stream wait timed out; got ${JSON.stringify(events.map((e) => e.type))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    bodies: () =>
      events
        .filter((e) => e.type === 'message.created')
        .map((e) => (e.data.message as { body: string }).body),
    lastEventId: () => events[events.length - 1]?.id ?? '',
    close: () => source.close(),
  };
  return client.until((e) => e.some((x) => x.type === 'ready' || x.type === 'reset')).then(() => client);
}

export async function realtimeServer(
  settings: Record<string, string> = {},
  /** Told of every batch the relay hands to the hub (the server's relay metrics hook). */
  onRelayed?: (events: number, seconds: number) => void,
): Promise<RealtimeServer> {
  const t = await testApp(settings);
  const realtime = await startRealtime(
    t.db.sql,
    {
      sseHeartbeatMs: Number(settings.MICROCHATTER_SSE_HEARTBEAT_MS ?? 15_000),
      sseRetryMs: Number(settings.MICROCHATTER_SSE_RETRY_MS ?? 50),
      sseMaxBufferBytes: Number(settings.MICROCHATTER_SSE_MAX_BUFFER ?? 1_048_576),
      eventPollMs: Number(settings.MICROCHATTER_EVENT_POLL_MS ?? 1000),
    },
    onRelayed,
  );
  const corsOrigins = settings.MICROCHATTER_CORS_ORIGINS?.split(',') ?? [];
  const app = createApp({ ...t.options, realtime, maxStreamsPerUser: 5, corsOrigins });
  const server = await startHttpServer(app, {
    host: '127.0.0.1',
    port: 0,
    tls: undefined,
    headersTimeout: 10_000,
    requestTimeout: 30_000,
  });
  const clients: StreamClient[] = [];
  return {
    ...t,
    url: server.url,
    realtime,
    server,
    async stream(userId, options = {}) {
      const token = options.token ?? (await t.tokenFor(userId));
      const query = options.after ? `?last_event_id=${encodeURIComponent(options.after)}` : '';
      const client = await streamClient(options.url ?? `${server.url}/events${query}`, {
        authorization: `Bearer ${token}`,
      });
      clients.push(client);
      return client;
    },
    async rpc(userId, name, body = {}) {
      const response = await fetch(`${server.url}/rpc/${name}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await t.tokenFor(userId)}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      if (response.status >= 400) throw new Error(`${name}: ${response.status} ${text}`);
      return text ? JSON.parse(text) : {};
    },
    async close() {
      for (const client of clients) client.close();
      const closed = server.close();
      await realtime.stop();
      await closed;
      await t.close();
    },
  };
}

// --- Additions for the ticket, resilience and process suites (test/events/*.test.ts). ---

/** A site-signed token for `userId` whose `exp` lies `seconds` from now (whole seconds, as JWT has). */
export async function tokenExpiringIn(
  userId: string,
  seconds: number,
): Promise<{ token: string; exp: number }> {
  const { SignJWT } = await import('jose');
  const { JWT_SECRET } = await import('./http.ts');
  const exp = Math.ceil(Date.now() / 1000) + seconds;
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(JWT_SECRET));
  return { token, exp };
}

/** Records what console.log/info/warn/error and the log print until `restore()`, still printing it. */
export async function captureConsole(): Promise<{ output(): string; restore(): void }> {
  const { format } = await import('node:util');
  const methods = ['log', 'info', 'warn', 'error'] as const;
  const originals = methods.map((name) => console[name]);
  const lines: string[] = [];
  for (const [i, name] of methods.entries()) {
    const original = originals[i];
    console[name] = (...args: unknown[]) => {
      lines.push(format(...args));
      original?.apply(console, args);
    };
  }
  // The structured log (server/logger.ts) writes to stdout directly.
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    lines.push(String(chunk));
    return write.call(process.stdout, chunk, ...rest);
  }) as typeof process.stdout.write;
  return {
    output: () => {
      flushLog();
      return lines.join('\n');
    },
    restore: () => {
      for (const [i, name] of methods.entries()) if (originals[i]) console[name] = originals[i];
      process.stdout.write = write;
    },
  };
}

/** Resolves once `condition` holds, checking every 20 ms (rejects with `what` after `timeoutMs`). */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
