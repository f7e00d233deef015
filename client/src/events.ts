/**
 * The user's live events (GET /events, docs/realtime.md): one stream that reconnects by itself,
 * resumes after the last event it delivered, and backs off when the server or the token says no.
 */
import type { Transport } from './client.js';
import { errorFrom, MicrochatterError } from './errors.js';
import type { Message } from './generated/api.js';
import { readSse, type SseFrame } from './sse.js';

/** An event as the stream delivers it: `id` is its position in the log (absent on ephemeral ones). */
export interface StreamEvent<T extends string, D> {
  type: T;
  id: string | undefined;
  data: D;
}

/** A conversation's shared facts, as `conversation.created` and `conversation.updated` carry them. */
export interface ConversationInfo {
  conversation_id: number;
  kind: 'direct' | 'group';
  title: string | null;
  members: string[];
  owner: string | null;
  admins: string[];
}

export type MessageCreatedEvent = StreamEvent<
  'message.created',
  { conversation_id: number; message: Message }
>;
/** An edit or a reaction: the full message as it is now. */
export type MessageUpdatedEvent = StreamEvent<
  'message.updated',
  { conversation_id: number; message: Message }
>;
/** A message deleted for everyone: the tombstone (`deleted_at` set, body gone). */
export type MessageDeletedEvent = StreamEvent<
  'message.deleted',
  { conversation_id: number; message: Message }
>;
export type ConversationReadEvent = StreamEvent<
  'conversation.read',
  { conversation_id: number; user: string; read_seq: number; read_at?: string | null }
>;
export type ConversationCreatedEvent = StreamEvent<'conversation.created', ConversationInfo>;
export type ConversationUpdatedEvent = StreamEvent<'conversation.updated', ConversationInfo>;
/** You deleted the conversation (on another device). */
export type ConversationDeletedEvent = StreamEvent<'conversation.deleted', { conversation_id: number }>;
/**
 * Ephemeral (no id, never replayed): `user` is typing until `expires_at`, or stopped (`typing: false`,
 * `expires_at: null`; also when their message arrives).
 */
export type TypingEvent = StreamEvent<
  'typing',
  { conversation_id: number; user: string; typing: boolean; expires_at?: string | null }
>;
export type PresenceChangedEvent = StreamEvent<
  'presence.changed',
  { user: string; online: boolean; last_seen_at: string | null }
>;
/** The replay is done; live from here. */
export type ReadyEvent = StreamEvent<'ready', { position: number }>;
/** The cursor was unknown or too old: refetch what you show through the RPC API. */
export type ResetEvent = StreamEvent<'reset', { reason: string }>;
/** The token expired; the client reconnects with a fresh one from the provider. */
export type ExpiredEvent = StreamEvent<'expired', { reason: string }>;
/** The server is stopping; the client reconnects (to another process) with the last id. */
export type ShutdownEvent = StreamEvent<'shutdown', { reason: string }>;

export type ChatEvent =
  | MessageCreatedEvent
  | MessageUpdatedEvent
  | MessageDeletedEvent
  | ConversationReadEvent
  | ConversationCreatedEvent
  | ConversationUpdatedEvent
  | ConversationDeletedEvent
  | TypingEvent
  | PresenceChangedEvent
  | ReadyEvent
  | ResetEvent
  | ExpiredEvent
  | ShutdownEvent;

export type ChatEventType = ChatEvent['type'];

/** Every type the client delivers; frames of other types (a newer server's) are skipped. */
export const EVENT_TYPES: readonly ChatEventType[] = [
  'message.created',
  'message.updated',
  'message.deleted',
  'conversation.read',
  'conversation.created',
  'conversation.updated',
  'conversation.deleted',
  'typing',
  'presence.changed',
  'ready',
  'reset',
  'expired',
  'shutdown',
];

export type StreamStatus =
  | { state: 'connecting'; attempt: number }
  | { state: 'live' }
  | { state: 'reconnecting'; attempt: number; delayMs: number; error: unknown }
  | { state: 'closed' };

export interface EventHandlers {
  /** Every event, in order, each once (duplicates after a reconnect are dropped). */
  onEvent?(event: ChatEvent): void;
  /**
   * Events were lost (the cursor was too old or unknown): refetch the inbox and open conversations.
   * Also delivered to onEvent. The stream carries on live meanwhile.
   */
  onReset?(event: ResetEvent): void;
  /** Connection state: for a "reconnecting…" banner. */
  onStatus?(status: StreamStatus): void;
}

/** The part of EventSource the ticket transport uses (browsers', or the `eventsource` package's). */
export interface EventSourceLike {
  addEventListener(type: string, listener: (event: { data: string; lastEventId: string }) => void): void;
  onerror: ((event: unknown) => void) | null;
  close(): void;
}
export type EventSourceConstructor = new (url: string) => EventSourceLike;

export interface EventsOptions {
  /** Resume after this event id (e.g. one saved with the page state); default: live from now. */
  lastEventId?: string;
  /**
   * `ticket`: POST /events/ticket, then EventSource (browsers: EventSource cannot send headers).
   * `bearer`: a fetch stream with the Authorization header (Node). Default: `ticket` where a global
   * EventSource exists, `bearer` elsewhere.
   */
  transport?: 'ticket' | 'bearer';
  /** The EventSource to use for `ticket` (default: the global one). */
  EventSource?: EventSourceConstructor;
  /** Reconnect delays: doubling from `initialMs` (1000) up to `maxMs` (30000), with jitter. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** `bearer`: reconnect when nothing arrives for this long (the server sends a heartbeat every 15 s). */
  idleTimeoutMs?: number;
}

export interface Subscription {
  /** The id of the last event delivered: pass it as `lastEventId` to resume later. */
  readonly lastEventId: string | undefined;
  close(): void;
}

/** How one connection ended. */
type Outcome =
  | { kind: 'closed' }
  /** The credential was refused (401) or expired: ask the token provider, then reconnect. */
  | { kind: 'unauthorized'; token: string; error: unknown }
  | { kind: 'failed'; error: unknown; retryAfterMs?: number };

interface Connection {
  /** Resolves when the connection is over. */
  done: Promise<Outcome>;
  close(): void;
}

/** Equal jitter: half the doubled delay, plus up to as much again at random; never near zero. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/** Frames without an id: EventSource reports the previous id on them, which is not theirs. */
const EPHEMERAL: ReadonlySet<string> = new Set(['typing']);

const isPosition = (id: string | undefined): id is string => id !== undefined && /^\d+$/.test(id);

export function subscribe(
  transport: Transport,
  handlers: EventHandlers,
  options: EventsOptions = {},
): Subscription {
  const initialMs = options.backoff?.initialMs ?? 1000;
  const maxMs = options.backoff?.maxMs ?? 30_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
  const globalSource = (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
  const EventSourceImpl = options.EventSource ?? globalSource;
  const mode = options.transport ?? (EventSourceImpl ? 'ticket' : 'bearer');
  if (mode === 'ticket' && !EventSourceImpl) throw new TypeError('the ticket transport needs an EventSource');

  let lastEventId = options.lastEventId;
  let closed = false;
  let connection: Connection | undefined;
  let wake: (() => void) | undefined;
  /** Whether the current connection reached `ready` (a live connection resets the backoff). */
  let live = false;
  /** Set by an `expired` frame: the server is about to close because the token ran out. */
  let expired = false;

  const status = (s: StreamStatus) => {
    try {
      handlers.onStatus?.(s);
    } catch (error) {
      console.error('microchatter-client: onStatus threw', error);
    }
  };

  const deliver = (frame: SseFrame) => {
    if (!(EVENT_TYPES as readonly string[]).includes(frame.event)) return;
    const type = frame.event as ChatEventType;
    const id = frame.id || undefined;
    if (type === 'reset') {
      // The server's cursor replaces ours, whatever ours was (it may be from another database).
      lastEventId = id;
    } else if (
      type !== 'ready' &&
      isPosition(id) &&
      isPosition(lastEventId) &&
      Number(id) <= Number(lastEventId)
    ) {
      return; // already delivered before a reconnect
    }
    let data: unknown;
    try {
      data = JSON.parse(frame.data);
    } catch {
      return;
    }
    if (id !== undefined) lastEventId = id;
    const event = { type, id, data } as ChatEvent;
    if (type === 'ready') {
      live = true;
      status({ state: 'live' });
    } else if (type === 'expired') expired = true;
    try {
      if (event.type === 'reset') handlers.onReset?.(event);
      handlers.onEvent?.(event);
    } catch (error) {
      console.error(`microchatter-client: a handler threw on ${type}`, error);
    }
  };

  const bearer = async (token: string, signal: AbortSignal, idle: () => void): Promise<Outcome> => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
    if (lastEventId) headers['last-event-id'] = lastEventId;
    const response = await transport.fetch(`${transport.baseUrl}/events`, { headers, signal });
    if (!response.ok || !response.body) return refusal(response, token);
    idle();
    await readSse(response.body, deliver, idle);
    return ended(token);
  };

  const ticket = async (token: string, signal: AbortSignal, onSource: (s: EventSourceLike) => void) => {
    const response = await transport.fetch(`${transport.baseUrl}/events/ticket`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      signal,
    });
    if (!response.ok) return refusal(response, token);
    const { ticket } = (await response.json()) as { ticket: string };
    const query = new URLSearchParams({ ticket });
    if (lastEventId) query.set('last_event_id', lastEventId);
    const Source = EventSourceImpl as EventSourceConstructor;
    const source = new Source(`${transport.baseUrl}/events?${query}`);
    onSource(source);
    return new Promise<Outcome>((resolve) => {
      for (const type of EVENT_TYPES) {
        source.addEventListener(type, (e) =>
          deliver({ event: type, data: e.data, id: EPHEMERAL.has(type) ? undefined : e.lastEventId }),
        );
      }
      // EventSource would retry the same URL, whose ticket is spent: close and start over instead.
      source.onerror = () => {
        source.close();
        resolve(ended(token));
      };
      signal.addEventListener('abort', () => resolve({ kind: 'closed' }));
    });
  };

  const refusal = async (response: Response, token: string): Promise<Outcome> => {
    const error = await errorFrom(response);
    if (response.status === 401) return { kind: 'unauthorized', token, error };
    const retryAfterMs = error.retryAfter === undefined ? undefined : error.retryAfter * 1000;
    return { kind: 'failed', error, retryAfterMs };
  };

  const ended = (token: string): Outcome =>
    expired
      ? { kind: 'unauthorized', token, error: new MicrochatterError('MCAUT', 401, 'the token expired') }
      : { kind: 'failed', error: new Error('the event stream ended') };

  const open = (token: string): Connection => {
    const controller = new AbortController();
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    let source: EventSourceLike | undefined;
    const idle = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => controller.abort(new Error('the event stream went quiet')), idleTimeoutMs);
    };
    const attempt =
      mode === 'bearer'
        ? bearer(token, controller.signal, idle)
        : ticket(token, controller.signal, (s) => {
            source = s;
          });
    const done = attempt
      .catch((error: unknown): Outcome => ({ kind: 'failed', error }))
      .then((outcome) => (closed ? { kind: 'closed' as const } : outcome))
      .finally(() => {
        clearTimeout(idleTimer);
        source?.close();
      });
    return { done, close: () => controller.abort() };
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const run = async () => {
    let failures = 0;
    /** The provider was already asked since the last live connection: the next refusal waits. */
    let refreshed = false;
    /** A token the server refused: the provider is asked for a new one before the next attempt. */
    let refused: string | undefined;
    while (!closed) {
      status({ state: 'connecting', attempt: failures + 1 });
      live = false;
      expired = false;
      let outcome: Outcome;
      try {
        if (refused !== undefined) await transport.tokens.refresh(refused);
        refused = undefined;
        connection = open(await transport.tokens.get());
        outcome = await connection.done;
      } catch (error) {
        outcome = { kind: 'failed', error }; // the token provider failed
      }
      if (closed || outcome.kind === 'closed') break;
      if (live) {
        failures = 0;
        refreshed = false;
      }
      if (outcome.kind === 'unauthorized') {
        refused = outcome.token;
        // A fresh token from the provider: reconnect at once, but only once until a stream goes live.
        if (transport.tokens.renewable && !refreshed) {
          refreshed = true;
          continue;
        }
      }
      failures++;
      const retryAfterMs = outcome.kind === 'failed' ? (outcome.retryAfterMs ?? 0) : 0;
      const delayMs = Math.max(retryAfterMs, backoffDelay(failures, initialMs, maxMs));
      status({ state: 'reconnecting', attempt: failures, delayMs, error: outcome.error });
      await sleep(delayMs);
    }
    status({ state: 'closed' });
  };
  void run();

  return {
    get lastEventId() {
      return lastEventId;
    },
    close() {
      if (closed) return;
      closed = true;
      connection?.close();
      wake?.();
    },
  };
}
