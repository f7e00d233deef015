/**
 * One relay per server process: holds the process's single LISTEN connection, reads new events from
 * the log when woken, and hands each to the hub for the recipients' streams on this process.
 *
 * NOTIFY is only a wake-up; the table is the truth. Positions are handed out in commit order
 * (functions/chat_private/events.sql), so by the time a notification arrives everything before it is
 * readable, and reading "after the last position" never skips anything. After the LISTEN connection
 * comes back (onlisten) the relay reads what it missed; a slow poll covers a lost notification.
 *
 * A process with no open stream reads nothing: each read costs the process and the database a query
 * per wake-up (120–150 µs of the server's CPU per send at one connection, bench/send.ts) for events
 * nobody here would receive. It only notes that it is behind, and the next stream to open moves it
 * to the newest position first (livePosition): events from before that stream opened were for no
 * stream of this process, and a stream that resumes replays its own gap from the log.
 */
import type { Sql } from '../db.ts';
import { log as logger } from '../logger.ts';
import { formatFrame, type Hub } from './hub.ts';

export interface RelayOptions {
  /** The backstop: read even without a notification this often. */
  pollMs: number;
  /** Events per read; a full batch is followed at once by the next. */
  batchSize?: number;
  log?: (line: string) => void;
  /** Told after each batch handed to the hub: how many events, and seconds since the wake-up. */
  onRelayed?: ((events: number, seconds: number) => void) | undefined;
  /** Told of every event handed to the hub (typing ends when its typist's message arrives). */
  onEvent?: ((type: string, payload: unknown) => void) | undefined;
  /** Notifications of the typing channel, on the same LISTEN connection (they are not in the log). */
  onTyping?: ((payload: string) => void) | undefined;
  /**
   * Where the reads go (default `sql`, which still holds the LISTEN): a pool of one connection of the
   * relay's own. Reads go one at a time, and the main pool hands its idle connections out in turn,
   * so each wake-up's read went to whichever backend had sat idle longest.
   */
  readSql?: Sql;
}

export interface Relay {
  /**
   * Where a stream opened now goes live: the position of the last event handed to the hub, after
   * catching up if the relay skipped reads while the process had no streams. Call it after the
   * stream is registered with the hub, so that events committed meanwhile are held for it.
   */
  livePosition(): Promise<number>;
  stop(): Promise<void>;
}

interface EventRow {
  position: number;
  type: string;
  recipients: string[];
  payload: unknown;
}

export const EVENTS_CHANNEL = 'microchatter_events';
const TYPING_CHANNEL = 'microchatter_typing';

export async function startRelay(sql: Sql, hub: Hub, options: RelayOptions): Promise<Relay> {
  // Small batches: between reads the sockets flush, so a burst does not pile up on a reading stream.
  const batchSize = options.batchSize ?? 200;
  const log = options.log ?? ((line: string) => logger.warn(line));
  const reads = options.readSql ?? sql;
  const latestPosition = async () => {
    const [latest] = await reads<
      { position: number | null }[]
    >`select chat_server.latest_event_position() as position`;
    return latest?.position ?? 0;
  };
  let position = await latestPosition();
  let reading: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  /** Wake-ups skipped while no stream was open: the position is older than the log's end. */
  let behind = false;

  /** Skips what came while no stream was open: one query, however long the process sat idle. */
  let catchingUp: Promise<void> | null = null;
  const catchUp = (): Promise<void> => {
    catchingUp ??= (async () => {
      const latest = await latestPosition();
      // Read after the await: a read running meanwhile may have gone further.
      position = Math.max(position, latest);
      behind = false;
    })().finally(() => {
      catchingUp = null;
    });
    return catchingUp;
  };

  const readUntilCaughtUp = async () => {
    const wokeAt = performance.now();
    if (behind) await catchUp();
    for (;;) {
      const rows = await reads<EventRow[]>`select * from chat_server.read_events(${position}, ${batchSize})`;
      for (const row of rows) {
        // A catch-up during this read may have moved past what it fetched.
        if (row.position <= position) continue;
        hub.deliver(row.recipients, row.position, formatFrame(row.type, row.payload, row.position));
        position = row.position;
        options.onEvent?.(row.type, row.payload);
      }
      if (rows.length > 0) options.onRelayed?.(rows.length, (performance.now() - wokeAt) / 1000);
      if (rows.length < batchSize) return;
    }
  };

  /** Reads until caught up; wake-ups during a read fold into one more read. */
  const read = (): void => {
    if (stopped) return;
    if (hub.streamCount() === 0) {
      behind = true;
      return;
    }
    if (reading) {
      again = true;
      return;
    }
    reading = readUntilCaughtUp()
      .catch((error: unknown) => log(`Microchatter: reading events failed: ${(error as Error).message}`))
      .finally(() => {
        reading = null;
        if (again) {
          again = false;
          read();
        }
      });
  };

  // onlisten runs on the first LISTEN and after every reconnect: catch up on what came meanwhile.
  const listener = await sql.listen(EVENTS_CHANNEL, read, read);
  // postgres.js listens on every channel over one connection: still one LISTEN connection per process.
  const { onTyping } = options;
  const typingListener = onTyping ? await sql.listen(TYPING_CHANNEL, onTyping) : undefined;
  const poll = setInterval(read, options.pollMs);
  poll.unref();

  return {
    async livePosition() {
      if (behind) await catchUp();
      return position;
    },
    async stop() {
      stopped = true;
      clearInterval(poll);
      await listener.unlisten().catch(() => undefined);
      await typingListener?.unlisten().catch(() => undefined);
      await reading;
    },
  };
}
