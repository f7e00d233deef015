/** The realtime side of one server process: its streams (hub), its relay, and the log's pruning. */
import type { Config } from '../config.ts';
import type { Sql } from '../db.ts';
import { log } from '../logger.ts';
import { createHub, formatFrame, type Hub } from './hub.ts';
import { type Relay, startRelay } from './relay.ts';

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
>;

export async function startRealtime(
  sql: Sql,
  config: RealtimeSettings,
  onRelayed?: (events: number, seconds: number) => void,
): Promise<Realtime> {
  const hub = createHub({
    maxBufferedBytes: config.sseMaxBufferBytes,
    heartbeatMs: config.sseHeartbeatMs,
    retryMs: config.sseRetryMs,
  });
  const relay = await startRelay(sql, hub, { pollMs: config.eventPollMs, onRelayed });
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
      await relay.stop();
    },
  };
}
