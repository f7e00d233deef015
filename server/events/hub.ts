/**
 * The event streams connected to this process, by user, and how frames reach them.
 *
 * Frames are written straight to node's ServerResponse: DESIGN.md measured Hono's streamSSE at ~30 KB
 * per idle stream against ~11 KB for raw writes, and 4× slower broadcast. A frame is built once per
 * event and the same string written to every recipient's streams.
 */
import type { ServerResponse } from 'node:http';

export interface HubOptions {
  /**
   * Unsent bytes a stream may hold. Past it, the client has a few seconds to drain (a burst is not a
   * stalled reader); past four times it, or still full after that, it is cut off and resumes later
   * from its cursor. Memory per stream stays bounded either way.
   */
  maxBufferedBytes: number;
  /** Comment lines keep proxies from closing quiet streams. */
  heartbeatMs: number;
  /** The `retry:` hint: how long a browser waits before reconnecting. */
  retryMs: number;
  /** Told when a user's first stream on this process opens (true) and when their last one closes (false). */
  onPresence?: ((userId: string, online: boolean) => void) | undefined;
}

export interface Stream {
  readonly userId: string;
  /** Position of the last event written: the client's cursor. */
  position: number;
  /** Frames that arrived while the stream was replaying missed events; null once live. */
  held: { position: number; frame: string }[] | null;
  readonly response: ServerResponse;
  /** Since when its unsent bytes have been over the bound, if they are. */
  fullSince?: number | undefined;
}

export interface Hub {
  /**
   * Starts a stream: writes the headers and holds live events back until `goLive`, so that events
   * replayed from the log and live ones do not interleave.
   */
  open(userId: string, response: ServerResponse, headers?: Record<string, string>): Stream;
  /** Writes a replayed event. */
  replay(stream: Stream, position: number, frame: string): void;
  /** Resolves true once the stream's unsent bytes are within the bound; false if it closed meanwhile. */
  drained(stream: Stream): Promise<boolean>;
  /** Sends what arrived during the replay (skipping what the replay already sent), then goes live. */
  goLive(stream: Stream): void;
  /**
   * Writes an ephemeral frame (no id: never in the log, never replayed, e.g. `typing`) to the live
   * streams of its recipients on this process; streams still replaying skip it.
   */
  deliverEphemeral(recipients: readonly string[], frame: string): void;
  /** Writes a live event to every stream of its recipients on this process. */
  deliver(recipients: readonly string[], position: number, frame: string): void;
  /** Ends a stream (after an optional last frame). */
  end(stream: Stream, lastFrame?: string): void;
  /** Ends every stream, e.g. at shutdown. */
  endAll(lastFrame?: string): void;
  streamCount(): number;
  streamsOf(userId: string): number;
  stop(): void;
}

/** One SSE frame. JSON never contains a raw newline, so a body cannot forge frame boundaries. */
export function formatFrame(type: string, data: unknown, position?: number): string {
  const id = position === undefined ? '' : `id: ${position}\n`;
  return `${id}event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** How long a full stream may take to drain before it counts as stalled. */
const DRAIN_GRACE_MS = 5000;

export function createHub(options: HubOptions): Hub {
  const byUser = new Map<string, Set<Stream>>();
  let count = 0;

  const remove = (stream: Stream) => {
    const streams = byUser.get(stream.userId);
    if (!streams?.delete(stream)) return;
    count--;
    if (streams.size === 0) {
      byUser.delete(stream.userId);
      options.onPresence?.(stream.userId, false);
    }
  };

  const drop = (stream: Stream) => {
    remove(stream);
    stream.response.destroy();
  };

  // A client that stopped reading would make us hold every event for it: drop it instead.
  const write = (stream: Stream, frame: string) => {
    const { response } = stream;
    if (response.destroyed) return;
    response.write(frame);
    const unsent = response.writableLength;
    if (unsent <= options.maxBufferedBytes) return;
    if (unsent > 4 * options.maxBufferedBytes) return drop(stream);
    if (stream.fullSince === undefined) {
      stream.fullSince = Date.now();
      response.once('drain', () => {
        stream.fullSince = undefined;
      });
    } else if (Date.now() - stream.fullSince > DRAIN_GRACE_MS) drop(stream);
  };

  const heartbeat = setInterval(() => {
    for (const streams of byUser.values()) for (const stream of streams) write(stream, ':\n\n');
  }, options.heartbeatMs);
  heartbeat.unref();

  const end = (stream: Stream, lastFrame?: string) => {
    remove(stream);
    if (stream.response.destroyed || stream.response.writableEnded) return;
    stream.response.end(lastFrame);
  };

  return {
    open(userId, response, headers = {}) {
      response.writeHead(200, {
        ...headers,
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache, no-transform',
        Connection: 'keep-alive',
        // nginx and friends would otherwise buffer the stream.
        'X-Accel-Buffering': 'no',
      });
      response.write(`retry: ${options.retryMs}\n\n`);
      const stream: Stream = { userId, position: 0, held: [], response };
      const streams = byUser.get(userId) ?? new Set<Stream>();
      byUser.set(userId, streams);
      streams.add(stream);
      count++;
      if (streams.size === 1) options.onPresence?.(userId, true);
      response.once('close', () => remove(stream));
      return stream;
    },
    replay(stream, position, frame) {
      stream.position = position;
      write(stream, frame);
    },
    drained(stream) {
      const { response } = stream;
      if (response.destroyed) return Promise.resolve(false);
      if (response.writableLength <= options.maxBufferedBytes) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (drained: boolean) => () => {
          response.off('drain', onDrain);
          response.off('close', onClose);
          resolve(drained);
        };
        const onDrain = done(true);
        const onClose = done(false);
        response.once('drain', onDrain);
        response.once('close', onClose);
      });
    },
    goLive(stream) {
      for (const item of stream.held ?? []) {
        if (item.position > stream.position) {
          stream.position = item.position;
          write(stream, item.frame);
        }
      }
      stream.held = null;
    },
    deliverEphemeral(recipients, frame) {
      for (const userId of recipients) {
        const streams = byUser.get(userId);
        if (!streams) continue;
        for (const stream of streams) if (!stream.held) write(stream, frame);
      }
    },
    deliver(recipients, position, frame) {
      for (const userId of recipients) {
        const streams = byUser.get(userId);
        if (!streams) continue;
        for (const stream of streams) {
          if (stream.held) stream.held.push({ position, frame });
          else if (position > stream.position) {
            // (A replay can run ahead of the relay: what it already sent is not sent again.)
            stream.position = position;
            write(stream, frame);
          }
        }
      }
    },
    end,
    endAll(lastFrame) {
      for (const streams of [...byUser.values()]) for (const stream of [...streams]) end(stream, lastFrame);
    },
    streamCount: () => count,
    streamsOf: (userId) => byUser.get(userId)?.size ?? 0,
    stop: () => clearInterval(heartbeat),
  };
}
