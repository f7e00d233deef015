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
    : { write: bufferedStdout() },
);

/**
 * Lines go to process.stdout (synchronous for files and pipes on Linux, so nothing is lost at exit, and
 * whoever replaces stdout.write, a test, sees every line), gathered into one write per turn of the
 * event loop: a write per request line was one system call per request (bench/http.ts --profile).
 */
function bufferedStdout(): (line: string) => void {
  let pending = '';
  const flush = () => {
    if (pending === '') return;
    const lines = pending;
    pending = '';
    process.stdout.write(lines);
  };
  process.on('exit', flush);
  return (line) => {
    if (pending === '') setImmediate(flush);
    pending += line;
    // A burst of lines in one turn stays one write, up to a bound.
    if (pending.length > 65_536) flush();
  };
}

export function setLogLevel(level: LogLevel): void {
  log.level = level;
}
