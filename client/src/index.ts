/**
 * microchatter-client: a typed client for a Microchatter server. See docs/client.md.
 */
export { type Client, type ClientOptions, createClient } from './client.js';
export { MicrochatterError } from './errors.js';
export {
  backoffDelay,
  type ChatEvent,
  type ChatEventType,
  type ConversationCreatedEvent,
  type ConversationDeletedEvent,
  type ConversationInfo,
  type ConversationReadEvent,
  type ConversationUpdatedEvent,
  EVENT_TYPES,
  type EventHandlers,
  type EventSourceConstructor,
  type EventSourceLike,
  type EventsOptions,
  type ExpiredEvent,
  type MessageCreatedEvent,
  type MessageDeletedEvent,
  type MessageUpdatedEvent,
  type PresenceChangedEvent,
  type ReadyEvent,
  type ResetEvent,
  type ShutdownEvent,
  type StreamEvent,
  type StreamStatus,
  type Subscription,
  type TypingEvent,
} from './events.js';
export * from './generated/api.js';
export type { Page, Pages } from './pages.js';
export {
  type ConversationStore,
  createConversationStore,
  type StoreChange,
  type StoreOptions,
} from './store.js';
export type { TokenProvider } from './tokens.js';
