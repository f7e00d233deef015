import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type RealtimeServer, realtimeServer } from '../helpers/realtime.ts';

const test = suite('events: cross-origin streams');
let s: RealtimeServer;

test.before(async () => {
  s = await realtimeServer({ MICROCHATTER_CORS_ORIGINS: 'https://site.example' });
  await s.call('admin', '/admin/rpc/create_user', { user_id: 'web' });
});
test.after(async () => s.close());

/** Opens a stream with an Origin header and returns its response headers (then hangs up). */
async function streamHeaders(origin: string): Promise<Headers> {
  const controller = new AbortController();
  const response = await fetch(`${s.url}/events`, {
    headers: { authorization: `Bearer ${await s.tokenFor('web')}`, origin },
    signal: controller.signal,
  });
  controller.abort();
  assert.is(response.status, 200);
  return response.headers;
}

test('a page on an allowed origin may read the stream; others get no CORS headers', async () => {
  const allowed = await streamHeaders('https://site.example');
  assert.is(allowed.get('access-control-allow-origin'), 'https://site.example');
  assert.is(allowed.get('access-control-allow-credentials'), 'true');
  assert.match(allowed.get('content-type') ?? '', 'text/event-stream');
  const other = await streamHeaders('https://evil.example');
  assert.is(other.get('access-control-allow-origin'), null);
});

test.run();
