import { errorFrom } from './errors.js';
import { type EventHandlers, type EventsOptions, type Subscription, subscribe } from './events.js';
import {
  type AttachmentInfo,
  type CallOptions,
  type ChatApi,
  type Conversation,
  chatFunctions,
  type ListConversationsArgs,
  type ListMessagesArgs,
  type Message,
} from './generated/api.js';
import { type Pages, paginate } from './pages.js';
import { type TokenProvider, type Tokens, tokens } from './tokens.js';

export interface ClientOptions {
  /** Where Microchatter answers, e.g. `https://chat.example.com` (no trailing `/rpc`). */
  baseUrl: string;
  /** The user's token, or an async function that returns one (called again after a 401). */
  token: string | TokenProvider;
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
}

export interface Client extends ChatApi {
  readonly baseUrl: string;
  /** Calls `chat.<name>` by name: the same as `client[name](args)`. */
  call<N extends keyof ChatApi>(name: N, ...args: Parameters<ChatApi[N]>): ReturnType<ChatApi[N]>;
  /** The user's live events: one stream, resumed across reconnects (see docs/client.md). */
  events(handlers: EventHandlers, options?: EventsOptions): Subscription;
  /** The inbox, most recent activity first, fetched a page at a time as you iterate. */
  inbox(options?: { pageSize?: number; before?: string }): Pages<Conversation>;
  /** A conversation's messages, newest first, fetched a page at a time as you iterate. */
  history(conversationId: number, options?: { pageSize?: number; beforeSeq?: number }): Pages<Message>;
  /** POST /attachments: stores a file; pass its `attachment_id` in send_message's `attachments`. */
  uploadAttachment(
    file: Blob | ArrayBuffer | Uint8Array,
    options: { name: string; contentType?: string; signal?: AbortSignal },
  ): Promise<AttachmentInfo>;
  /** GET /attachments/<id>: the file, as a Response (`.blob()` for an image preview). */
  downloadAttachment(attachmentId: string, options?: CallOptions): Promise<Response>;
}

/** What the parts of the client share. */
export interface Transport {
  baseUrl: string;
  fetch: typeof fetch;
  tokens: Tokens;
}

/** `fetch` with the user's token; on 401, asks the token provider once for a new one and retries. */
export async function authorizedFetch(
  transport: Transport,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  for (let retried = false; ; retried = true) {
    const token = await transport.tokens.get();
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token}`);
    const response = await transport.fetch(`${transport.baseUrl}${path}`, { ...init, headers });
    if (response.status !== 401 || retried) return response;
    if (!(await transport.tokens.refresh(token))) return response;
    await response.body?.cancel();
  }
}

export function createClient(options: ClientOptions): Client {
  const transport: Transport = {
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    tokens: tokens(options.token),
  };

  const call = async (name: string, args: object = {}, callOptions: CallOptions = {}): Promise<unknown> => {
    const response = await authorizedFetch(transport, `/rpc/${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(args),
      signal: callOptions.signal,
    });
    if (!response.ok) throw await errorFrom(response);
    const text = await response.text();
    return text ? JSON.parse(text) : undefined;
  };

  const methods = Object.fromEntries(
    Object.keys(chatFunctions).map((name) => [
      name,
      (args?: object, callOptions?: CallOptions) => call(name, args, callOptions),
    ]),
  ) as unknown as ChatApi;

  return {
    ...methods,
    baseUrl: transport.baseUrl,
    async uploadAttachment(file, { name, contentType, signal }) {
      const type = contentType || (file instanceof Blob ? file.type : '') || 'application/octet-stream';
      const response = await authorizedFetch(transport, `/attachments?name=${encodeURIComponent(name)}`, {
        method: 'POST',
        headers: { 'content-type': type },
        body: file as Blob,
        signal,
      });
      if (!response.ok) throw await errorFrom(response);
      return (await response.json()) as AttachmentInfo;
    },
    async downloadAttachment(attachmentId, callOptions = {}) {
      const response = await authorizedFetch(transport, `/attachments/${encodeURIComponent(attachmentId)}`, {
        signal: callOptions.signal,
      });
      if (!response.ok) throw await errorFrom(response);
      return response;
    },
    call: ((name: string, args?: object, callOptions?: CallOptions) =>
      call(name, args, callOptions)) as Client['call'],
    events: (handlers, eventsOptions) => subscribe(transport, handlers, eventsOptions),
    inbox: ({ pageSize = 20, before } = {}) =>
      paginate<Conversation, string>(before, async (cursor) => {
        const args: ListConversationsArgs = { limit: pageSize, before: cursor ?? null };
        const page = await methods.list_conversations(args);
        const last = page[page.length - 1];
        return { items: page, next: page.length < pageSize ? undefined : (last?.cursor ?? undefined) };
      }),
    history: (conversationId, { pageSize = 50, beforeSeq } = {}) =>
      paginate<Message, number>(beforeSeq, async (cursor) => {
        const args: ListMessagesArgs = {
          conversation_id: conversationId,
          limit: pageSize,
          before_seq: cursor,
        };
        const page = await methods.list_messages(args);
        const last = page[page.length - 1];
        return { items: page, next: page.length < pageSize ? undefined : (last?.seq ?? undefined) };
      }),
  };
}
