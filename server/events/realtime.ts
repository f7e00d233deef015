/** The realtime side of one server process: its streams (hub), its relay, and the log's pruning. */
import type { Config } from '../config.ts';
import type { Sql } from '../db.ts';
import { log } from '../logger.ts';
import { createHub, formatFrame, type Hub } from './hub.ts';
import { type Presence, startPresence } from './presence.ts';
import { type Relay, startRelay } from './relay.ts';
import { createTyping } from './typing.ts';

export interface Realtime {
  hub: Hub;
  relay: Relay;
  /** Whether new streams are accepted. */
  accepting(): boolean;
  /** Refuses new streams and ends the open ones (clients reconnect, to another process if need be). */
  stop(): Promise<void>;
}

const PRUNE_EVERY_MS = 3_600_000;

type RealtimeSettings = Pick<
  Config,
  'sseHeartbeatMs' | 'sseRetryMs' | 'sseMaxBufferBytes' | 'eventPollMs' | 'eventRetentionDays'
> &
  // Presence is off unless asked for (server/main.ts passes the configured value, true by default).
  Partial<Pick<Config, 'presence' | 'presenceGraceMs' | 'presenceLeaseMs'>>;

export async function startRealtime(
  sql: Sql,
  config: RealtimeSettings,
  onRelayed?: (events: number, seconds: number) => void,
): Promise<Realtime> {
  let presence: Presence | undefined;
  const hub = createHub({
    maxBufferedBytes: config.sseMaxBufferBytes,
    heartbeatMs: config.sseHeartbeatMs,
    retryMs: config.sseRetryMs,
    onPresence: config.presence ? (userId, online) => presence?.changed(userId, online) : undefined,
  });
  const typing = createTyping(sql, hub);
  const relay = await startRelay(sql, hub, {
    pollMs: config.eventPollMs,
    onRelayed,
    onEvent: typing.relayed,
    onTyping: typing.notified,
  });
  if (config.presence) {
    presence = await startPresence(sql, hub, {
      graceMs: config.presenceGraceMs ?? 3000,
      leaseMs: config.presenceLeaseMs ?? 30_000,
    });
  }
  const prune = () =>
    sql`select chat_server.prune_events(${`${config.eventRetentionDays} days`}::interval)`.catch(
      (error: unknown) => log.warn({ reason: (error as Error).message }, 'pruning events failed'),
    );
  // Every process prunes; pruning twice is harmless, and a random start spreads them out.
  const pruneTimer = setInterval(prune, PRUNE_EVERY_MS + Math.floor(Math.random() * 60_000));
  pruneTimer.unref();
  let accepting = true;

  return {
    hub,
    relay,
    accepting: () => accepting,
    async stop() {
      accepting = false;
      clearInterval(pruneTimer);
      hub.endAll(formatFrame('shutdown', { reason: 'server restarting; reconnect with Last-Event-ID' }));
      hub.stop();
      typing.stop();
      await Promise.all([relay.stop(), presence?.stop()]);
    },
  };
}
