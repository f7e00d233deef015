/**
 * A small in-memory model of what a chat UI shows, kept current by the event stream: the inbox,
 * the loaded messages of each conversation, read positions and who is typing. Load it from the RPC
 * API (list_conversations, list_messages), then pass every event to `apply`. Applying is idempotent:
 * an event seen twice changes nothing the second time.
 */
import type { ChatEvent, ConversationInfo } from './events.js';
import type { Conversation, Message } from './generated/api.js';

export interface StoreChange {
  /** The conversation that changed; undefined when everything may have (clear). */
  conversation_id: number | undefined;
}

export interface ConversationStore {
  /** Applies one event from `client.events`. */
  apply(event: ChatEvent): void;
  /** Adds or replaces conversations (from list_conversations, get_conversation, mark_read, …). */
  putConversations(conversations: Conversation[]): void;
  /** Adds or replaces messages of a conversation (from list_messages, send_message, …). */
  putMessages(conversationId: number, messages: Message[]): void;
  conversation(conversationId: number): Conversation | undefined;
  /** The inbox: most recent activity first. */
  conversations(): Conversation[];
  /** The loaded messages of a conversation, oldest first. */
  messages(conversationId: number): Message[];
  /** How far each member has read (from conversation.read events). */
  readPositions(conversationId: number): ReadonlyMap<string, number>;
  /** Who is typing in the conversation now (yourself excluded). */
  typing(conversationId: number): string[];
  /** Whether a user is online, from presence.changed events (undefined: not heard of). */
  online(user: string): boolean | undefined;
  /** Called after every change; returns the unsubscribe function. */
  subscribe(listener: (change: StoreChange) => void): () => void;
  /** Forgets everything (after a `reset`, before loading afresh). */
  clear(): void;
  /** Stops the typing expiry timer. */
  dispose(): void;
}

export interface StoreOptions {
  /** The user the client acts as (`me().user_id`): their messages do not count as unread. */
  me: string;
  /** How long a `typing` event lasts when it has no `expires_at` (6000 ms). */
  typingTimeoutMs?: number;
  /** The clock, for tests. */
  now?: () => number;
}

interface Entry {
  conversation: Conversation;
  messages: Map<number, Message>;
  reads: Map<string, number>;
  /** user → epoch ms when their typing expires. */
  typing: Map<string, number>;
}

/**
 * A conversation heard of only through an event so far: placeholders until conversation.created or a
 * fetch (get_conversation) fills it in. It was just heard of, so its activity is `at` (now).
 */
const stub = (conversationId: number, at: string): Conversation => ({
  conversation_id: conversationId,
  kind: 'direct',
  title: null,
  peer: null,
  members: [],
  owner: null,
  admins: [],
  last_message: null,
  unread: 0,
  read_seq: 0,
  last_seq: 0,
  muted: false,
  is_member: true,
  last_activity_at: at,
  created_at: at,
  cursor: '',
});

export function createConversationStore(options: StoreOptions): ConversationStore {
  const { me } = options;
  const typingTimeoutMs = options.typingTimeoutMs ?? 6000;
  const now = options.now ?? Date.now;
  const entries = new Map<number, Entry>();
  const presence = new Map<string, boolean>();
  const listeners = new Set<(change: StoreChange) => void>();
  let typingTimer: ReturnType<typeof setTimeout> | undefined;

  const changed = (conversationId: number | undefined) => {
    for (const listener of [...listeners]) listener({ conversation_id: conversationId });
  };

  const entry = (conversationId: number): Entry => {
    let found = entries.get(conversationId);
    if (!found) {
      found = {
        conversation: stub(conversationId, new Date(now()).toISOString()),
        messages: new Map(),
        reads: new Map(),
        typing: new Map(),
      };
      entries.set(conversationId, found);
    }
    return found;
  };

  /** Wakes listeners when the next typing indicator runs out. */
  const scheduleTyping = () => {
    clearTimeout(typingTimer);
    let next = Number.POSITIVE_INFINITY;
    for (const e of entries.values()) for (const until of e.typing.values()) next = Math.min(next, until);
    if (next === Number.POSITIVE_INFINITY) return;
    typingTimer = setTimeout(
      () => {
        const t = now();
        for (const [id, e] of entries) {
          let expired = false;
          for (const [user, until] of e.typing) {
            if (until <= t) {
              e.typing.delete(user);
              expired = true;
            }
          }
          if (expired) changed(id);
        }
        scheduleTyping();
      },
      Math.max(0, next - now()),
    );
    // Never keep a Node process alive just to clear an indicator.
    (typingTimer as { unref?: () => void }).unref?.();
  };

  /** Keeps the conversation's summary (last message, unread) in step with a message. */
  const noteMessage = (e: Entry, message: Message, isNew: boolean) => {
    const c = e.conversation;
    const seq = message.seq ?? 0;
    const lastSeq = c.last_seq ?? 0;
    if (seq >= lastSeq) {
      c.last_message = message;
      if (seq > lastSeq) {
        c.last_seq = seq;
        if (isNew && message.sent_at) c.last_activity_at = message.sent_at;
        if (message.sender === me) c.read_seq = seq;
      }
    }
    c.unread = Math.max(0, (c.last_seq ?? 0) - (c.read_seq ?? 0));
  };

  const putMessage = (conversationId: number, message: Message, fromEvent: boolean) => {
    if (message.seq === null) return;
    const e = entry(conversationId);
    const isNew = !e.messages.has(message.seq);
    e.messages.set(message.seq, message);
    if (fromEvent) noteMessage(e, message, isNew);
    else if (message.seq === e.conversation.last_message?.seq) e.conversation.last_message = message;
    if (message.sender && e.typing.delete(message.sender)) scheduleTyping();
  };

  const putInfo = (info: ConversationInfo) => {
    const c = entry(info.conversation_id).conversation;
    c.kind = info.kind;
    // A direct chat's title is the other member's name, which the event does not carry.
    if (info.kind === 'group' || c.title === null) c.title = info.title;
    c.members = info.members;
    c.owner = info.owner;
    c.admins = info.admins;
    c.is_member = info.members.includes(me);
    if (info.kind === 'direct') c.peer = info.members.find((m) => m !== me) ?? null;
  };

  const store: ConversationStore = {
    apply(event) {
      switch (event.type) {
        case 'message.created':
        case 'message.updated':
        case 'message.deleted':
          putMessage(event.data.conversation_id, event.data.message, true);
          return changed(event.data.conversation_id);
        case 'conversation.read': {
          const { conversation_id, user, read_seq } = event.data;
          const e = entry(conversation_id);
          e.reads.set(user, Math.max(e.reads.get(user) ?? 0, read_seq));
          if (user === me) {
            const c = e.conversation;
            c.read_seq = Math.max(c.read_seq ?? 0, read_seq);
            c.unread = Math.max(0, (c.last_seq ?? 0) - c.read_seq);
          }
          return changed(conversation_id);
        }
        case 'conversation.created':
        case 'conversation.updated':
          putInfo(event.data);
          return changed(event.data.conversation_id);
        case 'conversation.deleted':
          entries.delete(event.data.conversation_id);
          return changed(event.data.conversation_id);
        case 'typing': {
          const { conversation_id, user, typing, expires_at } = event.data;
          if (user === me) return;
          const e = entry(conversation_id);
          const until = expires_at ? Date.parse(expires_at) : now() + typingTimeoutMs;
          if (typing && until > now()) e.typing.set(user, until);
          else e.typing.delete(user);
          scheduleTyping();
          return changed(conversation_id);
        }
        case 'presence.changed':
          presence.set(event.data.user, event.data.online);
          return changed(undefined);
        default:
          return; // ready, reset, expired, shutdown: about the stream, not the chats
      }
    },
    putConversations(conversations) {
      for (const c of conversations) {
        if (c.conversation_id === null) continue;
        entry(c.conversation_id).conversation = { ...c };
        changed(c.conversation_id);
      }
    },
    putMessages(conversationId, messages) {
      for (const m of messages) putMessage(conversationId, m, false);
      changed(conversationId);
    },
    conversation: (conversationId) => entries.get(conversationId)?.conversation,
    conversations: () =>
      [...entries.values()]
        .map((e) => e.conversation)
        .sort(
          (a, b) =>
            Date.parse(b.last_activity_at ?? '') - Date.parse(a.last_activity_at ?? '') ||
            (b.conversation_id ?? 0) - (a.conversation_id ?? 0),
        ),
    messages: (conversationId) =>
      [...(entries.get(conversationId)?.messages.values() ?? [])].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0)),
    readPositions: (conversationId) => entries.get(conversationId)?.reads ?? new Map(),
    typing: (conversationId) => {
      const t = now();
      return [...(entries.get(conversationId)?.typing ?? [])]
        .filter(([, until]) => until > t)
        .map(([u]) => u);
    },
    online: (user) => presence.get(user),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    clear() {
      entries.clear();
      presence.clear();
      scheduleTyping();
      changed(undefined);
    },
    dispose() {
      clearTimeout(typingTimer);
      listeners.clear();
    },
  };
  return store;
}
