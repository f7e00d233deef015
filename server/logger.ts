/**
 * The process's structured log (pino): one JSON object per line on stdout, readable text when stdout
 * is a terminal. Request lines carry the request id and user id; nothing logged here ever holds a
 * token, password, ticket or message body (request bodies and headers are not logged at all, and the
 * few fields that could carry a credential are redacted should one slip into an error object).
 */
import pino from 'pino';
import type { LogLevel } from './config.ts';

export type Logger = pino.Logger;

const REDACTED = [
  'authorization',
  'token',
  'password',
  'ticket',
  'body',
  '*.authorization',
  '*.token',
  '*.password',
  '*.ticket',
  '*.body',
];

function initialLevel(): LogLevel {
  const level = process.env.MICROCHATTER_LOG_LEVEL;
  return level && level in pino.levels.values ? (level as LogLevel) : level === 'silent' ? 'silent' : 'info';
}

/** At most one write to stdout per this many milliseconds; a line waits at most this long. */
export const LOG_FLUSH_MS = 100;

/** What the log writes to stdout (see gatheredWrites); any exit writes what is still gathered. */
const stdoutWrites = gatheredWrites((lines) => process.stdout.write(lines));
process.on('exit', stdoutWrites.flush);

/** The root logger; `setLogLevel` applies the configured level once settings are read. */
export const log: Logger = pino(
  {
    level: initialLevel(),
    base: { service: 'microchatter' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACTED, censor: '[redacted]' },
  },
  process.stdout.isTTY
    ? pino.transport({
        target: 'pino-pretty',
        options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' },
      })
    : { write: stdoutWrites.line },
);

/**
 * Lines go to process.stdout (synchronous for files and pipes on Linux, so nothing is lost at exit, and
 * whoever replaces stdout.write, a test, sees every line). A line after a quiet spell goes out at the
 * next turn of the event loop; those that follow within LOG_FLUSH_MS are gathered into one write at
 * its end. A write per request line was one system call, and a wake-up of the reader, per request:
 * on one connection about 5 % of the server's busy time per send (a --cpu-prof profile during
 * bench/send.ts's one-connection cell). A process killed outright (SIGKILL) loses at most that long's
 * lines.
 */
export function gatheredWrites(
  write: (lines: string) => void,
  intervalMs = LOG_FLUSH_MS,
): { line(line: string): void; flush(): void } {
  let pending = '';
  let scheduled: { cancel(): void } | undefined;
  let lastWrite = Number.NEGATIVE_INFINITY;
  const flush = () => {
    scheduled?.cancel();
    scheduled = undefined;
    if (pending === '') return;
    const lines = pending;
    pending = '';
    lastWrite = performance.now();
    write(lines);
  };
  const line = (text: string) => {
    pending += text;
    // A burst of lines stays one write, up to a bound.
    if (pending.length > 65_536) flush();
    else if (scheduled === undefined) {
      const wait = lastWrite + intervalMs - performance.now();
      if (wait > 0) {
        const timer = setTimeout(flush, wait).unref();
        scheduled = { cancel: () => clearTimeout(timer) };
      } else {
        const immediate = setImmediate(flush);
        scheduled = { cancel: () => clearImmediate(immediate) };
      }
    }
  };
  return { line, flush };
}

/** Writes the lines still gathered (tests that read the log, and before a deliberate exit). */
export function flushLog(): void {
  stdoutWrites.flush();
}

export function setLogLevel(level: LogLevel): void {
  log.level = level;
}
