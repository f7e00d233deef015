/** Settings of event streams (server/events) and the event log behind them. */
import { group, type Settings, settingsObject } from './define.ts';
import { boolean, integer } from './kinds.ts';

const settings = {
  sseHeartbeatMs: {
    env: 'MICROCHATTER_SSE_HEARTBEAT_MS',
    default: '15000',
    doc: 'milliseconds between heartbeat comments on event streams',
    schema: integer(100, 3_600_000, 'milliseconds'),
  },
  sseRetryMs: {
    env: 'MICROCHATTER_SSE_RETRY_MS',
    default: '2000',
    doc: 'the `retry:` hint: how long a browser waits before reconnecting a stream',
    schema: integer(0, 3_600_000, 'milliseconds'),
  },
  sseMaxBufferBytes: {
    env: 'MICROCHATTER_SSE_MAX_BUFFER',
    default: '1048576',
    doc: 'bytes of unsent events after which a stream that stopped reading is cut off (it resumes later)',
    schema: integer(16_384, 1_073_741_824, 'bytes'),
  },
  maxStreamsPerUser: {
    env: 'MICROCHATTER_MAX_STREAMS_PER_USER',
    default: '20',
    doc: 'event streams one user may hold on one process',
    schema: integer(1, 10_000, 'streams'),
  },
  eventPollMs: {
    env: 'MICROCHATTER_EVENT_POLL_MS',
    default: '1000',
    doc: 'backstop poll of the event log, should a notification be lost',
    schema: integer(10, 600_000, 'milliseconds'),
  },
  eventRetentionDays: {
    env: 'MICROCHATTER_EVENT_RETENTION_DAYS',
    default: '30',
    doc: 'how long events are kept for resuming streams',
    schema: integer(1, 3650, 'days'),
  },
  presence: {
    env: 'MICROCHATTER_PRESENCE',
    default: 'true',
    doc: 'keep presence (online while a stream is open, `presence.changed`); `false` leaves every user offline',
    schema: boolean,
  },
  presenceGraceMs: {
    env: 'MICROCHATTER_PRESENCE_GRACE_MS',
    default: '3000',
    doc: 'how long after their last stream closed a user is announced offline (a reconnect within it is no change)',
    schema: integer(0, 60_000, 'milliseconds'),
  },
  presenceLeaseMs: {
    env: 'MICROCHATTER_PRESENCE_LEASE_MS',
    default: '30000',
    doc: "how long a process's presence lease lasts without renewal: a killed process's users go offline after it",
    schema: integer(2000, 600_000, 'milliseconds'),
  },
} satisfies Settings;

export const realtime = group({
  title: 'Realtime',
  settings,
  schema: (cwd) => settingsObject(settings, cwd),
});
