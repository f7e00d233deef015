/** Settings of the job runner (graphile-worker) and what it runs: webhooks, push.needed. */
import { group, type Settings, settingsObject } from './define.ts';
import { boolean, integer } from './kinds.ts';

const settings = {
  workerConcurrency: {
    env: 'MICROCHATTER_WORKER_CONCURRENCY',
    default: '16',
    doc: 'jobs (webhook deliveries, pruning) one process runs at a time; `0` runs no jobs in this process',
    schema: integer(0, 1000, 'jobs'),
  },
  workerLeaseSeconds: {
    env: 'MICROCHATTER_WORKER_LEASE_SECONDS',
    default: '30',
    doc: 'a process that stopped renewing its job runner lease this long ago is dead: its locked jobs are unlocked for others',
    schema: integer(3, 3600, 'seconds'),
  },
  pushDelaySeconds: {
    env: 'MICROCHATTER_PUSH_DELAY',
    default: '30',
    doc: 'how long a message waits unread for an offline user before `push.needed` goes out',
    schema: integer(0, 86_400, 'seconds'),
  },
  messageRetentionDays: {
    env: 'MICROCHATTER_MESSAGE_RETENTION_DAYS',
    default: '0',
    doc: 'messages older than this become tombstones (hourly job); `0` keeps them for ever, or as the database setting `microchatter.message_retention_days` says',
    schema: integer(0, 36_500, 'days'),
  },
  webhookAllowPrivate: {
    env: 'MICROCHATTER_WEBHOOK_ALLOW_PRIVATE',
    default: 'false',
    doc: 'let webhooks target loopback and private addresses (tests, a receiver on the same network)',
    schema: boolean,
  },
  webhookTimeoutMs: {
    env: 'MICROCHATTER_WEBHOOK_TIMEOUT_MS',
    default: '5000',
    doc: 'time a receiver has to answer one delivery attempt, connecting included',
    schema: integer(100, 60_000, 'milliseconds'),
  },
  webhookRetryHours: {
    env: 'MICROCHATTER_WEBHOOK_RETRY_HOURS',
    default: '24',
    doc: 'how long a delivery is retried after its event before it is marked failed',
    schema: integer(0, 720, 'hours'),
  },
  webhookRetryBaseMs: {
    env: 'MICROCHATTER_WEBHOOK_RETRY_BASE_MS',
    default: '1000',
    doc: 'first wait before a retry; each further wait doubles, with jitter',
    schema: integer(1, 3_600_000, 'milliseconds'),
  },
  webhookRetryMaxMs: {
    env: 'MICROCHATTER_WEBHOOK_RETRY_MAX_MS',
    default: '3600000',
    doc: 'longest wait between two retries',
    schema: integer(1, 86_400_000, 'milliseconds'),
  },
} satisfies Settings;

export const integrations = group({
  title: 'Integrations',
  settings,
  schema: (cwd) => settingsObject(settings, cwd),
});
