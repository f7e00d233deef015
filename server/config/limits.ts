/** Settings that bound what one client, or all of them together, may ask of a process. */
import { group, type Settings, settingsObject } from './define.ts';
import { integer } from './kinds.ts';

const settings = {
  bodyLimit: {
    env: 'MICROCHATTER_BODY_LIMIT',
    default: '65536',
    doc: 'largest request body in bytes',
    schema: integer(1024, 104_857_600, 'bytes'),
  },
  // Attachments stream to PostgreSQL chunk by chunk, so the limit bounds storage, not server memory.
  attachmentLimit: {
    env: 'MICROCHATTER_ATTACHMENT_LIMIT',
    default: '10485760',
    doc: 'largest attachment in bytes (`POST /attachments`; 413 beyond)',
    schema: integer(1, 1_073_741_824, 'bytes'),
  },
  sendRatePerMinute: {
    env: 'MICROCHATTER_SEND_RATE_PER_MINUTE',
    default: '120',
    doc: 'messages a user may send per minute (429 beyond); `0`: no limit',
    schema: integer(0, 1_000_000, 'messages'),
  },
  // Past saturation, queued requests only wait until their clients give up; a quick 503 lets them retry
  // elsewhere or later.
  maxInFlight: {
    env: 'MICROCHATTER_MAX_IN_FLIGHT',
    default: '256',
    doc: 'requests handled at once per process; beyond it new requests get 503 with `Retry-After` (event streams and `/healthz` exempt)',
    schema: integer(1, 100_000, 'requests'),
  },
} satisfies Settings;

export const limits = group({
  title: 'Limits',
  settings,
  schema: (cwd) => settingsObject(settings, cwd),
});
