/**
 * Typing indicators on this process: `chat.set_typing` decides (membership, blocking, the 2 s throttle)
 * and sends a NOTIFY on `microchatter_typing`; every relay hears it and writes a `typing` frame (no id:
 * never logged, never replayed) to the recipients' live streams here. The payload names the recipients
 * unless the group is too big for a NOTIFY (8000 bytes), then they are looked up once per typist and
 * conversation and kept briefly. A message from the typist ends their typing (a `typing: false`).
 */
import type { Sql } from '../db.ts';
import { log } from '../logger.ts';
import { formatFrame, type Hub } from './hub.ts';

interface TypingNotice {
  conversation_id: number;
  user: string;
  typing: boolean;
  expires_at: string | null;
  recipients?: string[];
}

export interface Typing {
  /** A notification of the typing channel. */
  notified(payload: string): void;
  /** An event relayed from the log: a message.created ends its sender's typing. */
  relayed(type: string, payload: unknown): void;
  stop(): void;
}

/** How long a looked-up audience is reused: about one throttle window. */
const AUDIENCE_TTL_MS = 2000;
const TYPING_MS = 6000;

export function createTyping(sql: Sql, hub: Hub): Typing {
  // Who is shown typing where, from this process: whom to tell when their message arrives.
  const active = new Map<string, { recipients: string[]; since: number; expiresAt: number }>();
  const audiences = new Map<string, { recipients: Promise<string[]>; at: number }>();

  const audience = (notice: TypingNotice, key: string): Promise<string[]> => {
    if (notice.recipients) return Promise.resolve(notice.recipients);
    const cached = audiences.get(key);
    if (cached && Date.now() - cached.at < AUDIENCE_TTL_MS) return cached.recipients;
    const recipients = sql<{ recipients: string[] | null }[]>`
      select chat_server.typing_audience(${notice.conversation_id}, ${notice.user}) as recipients`.then(
      ([row]) => row?.recipients ?? [],
    );
    audiences.set(key, { recipients, at: Date.now() });
    return recipients;
  };

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [key, entry] of active) if (entry.expiresAt <= now) active.delete(key);
    for (const [key, entry] of audiences) if (now - entry.at >= AUDIENCE_TTL_MS) audiences.delete(key);
  }, 10_000);
  sweep.unref();

  const frame = (notice: Omit<TypingNotice, 'recipients'>) =>
    formatFrame('typing', {
      conversation_id: notice.conversation_id,
      user: notice.user,
      typing: notice.typing,
      expires_at: notice.expires_at,
    });

  return {
    notified(payload) {
      let notice: TypingNotice;
      try {
        notice = JSON.parse(payload) as TypingNotice;
      } catch {
        return;
      }
      const key = `${notice.conversation_id}|${notice.user}`;
      audience(notice, key)
        .then((recipients) => {
          if (recipients.length === 0) return;
          hub.deliverEphemeral(recipients, frame(notice));
          const expiresAt = notice.expires_at ? Date.parse(notice.expires_at) : 0;
          if (notice.typing && expiresAt) {
            active.set(key, { recipients, since: expiresAt - TYPING_MS, expiresAt });
          } else active.delete(key);
        })
        .catch((error: unknown) =>
          log.warn({ reason: (error as Error).message }, 'typing: audience lookup failed'),
        );
    },
    relayed(type, payload) {
      if (type !== 'message.created' || active.size === 0) return;
      const { conversation_id, message } = payload as {
        conversation_id: number;
        message: { sender: string; sent_at: string };
      };
      const key = `${conversation_id}|${message.sender}`;
      const entry = active.get(key);
      // A typing that began after this message was sent is about the next message: it stays.
      if (!entry || entry.expiresAt <= Date.now() || entry.since > Date.parse(message.sent_at)) return;
      active.delete(key);
      hub.deliverEphemeral(
        entry.recipients,
        frame({ conversation_id, user: message.sender, typing: false, expires_at: null }),
      );
    },
    stop: () => clearInterval(sweep),
  };
}
