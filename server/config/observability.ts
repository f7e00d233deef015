/** Settings of logs and metrics. */
import { group, type Settings, settingsObject } from './define.ts';
import { oneOf, secret } from './kinds.ts';

/** pino's levels, most severe first; `silent` writes nothing. */
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

const settings = {
  logLevel: {
    env: 'MICROCHATTER_LOG_LEVEL',
    default: 'info',
    doc: `least severe log lines written: ${logLevels.map((level) => `\`${level}\``).join(', ')}`,
    schema: oneOf(logLevels),
  },
  // Metrics name routes and counts users' traffic, so they are not public by default.
  metricsToken: {
    env: 'MICROCHATTER_METRICS_TOKEN',
    doc: 'Bearer token that `GET /metrics` requires (≥ 16 characters); absent: `/metrics` answers 404',
    schema: secret(16),
    secret: true,
  },
} satisfies Settings;

export const observability = group({
  title: 'Logs and metrics',
  settings,
  schema: (cwd) => settingsObject(settings, cwd),
});
