/**
 * The realtime side of one server process: its streams (hub), its relay, typing and presence. The
 * event log is pruned by the job runner (server/jobs/prune_events.ts).
 */
import type { Config } from '../config.ts';
import type { Sql } from '../db.ts';
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

type RealtimeSettings = Pick<Config, 'sseHeartbeatMs' | 'sseRetryMs' | 'sseMaxBufferBytes' | 'eventPollMs'> &
  // Presence is off unless asked for (server/main.ts passes the configured value, true by default).
  Partial<Pick<Config, 'presence' | 'presenceGraceMs' | 'presenceLeaseMs'>>;

/** `relayReads`: the relay's own connection for its reads (server/events/relay.ts); default `sql`. */
export async function startRealtime(
  sql: Sql,
  config: RealtimeSettings,
  onRelayed?: (events: number, seconds: number) => void,
  relayReads?: Sql,
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
    readSql: relayReads,
  });
  if (config.presence) {
    presence = await startPresence(sql, hub, {
      graceMs: config.presenceGraceMs ?? 3000,
      leaseMs: config.presenceLeaseMs ?? 30_000,
    });
  }
  let accepting = true;

  return {
    hub,
    relay,
    accepting: () => accepting,
    async stop() {
      accepting = false;
      hub.endAll(formatFrame('shutdown', { reason: 'server restarting; reconnect with Last-Event-ID' }));
      hub.stop();
      typing.stop();
      await Promise.all([relay.stop(), presence?.stop()]);
    },
  };
}
