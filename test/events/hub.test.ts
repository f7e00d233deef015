/** The hub on its own, over a real HTTP connection: ordering rules that the relay's timing rarely shows. */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHub, formatFrame, type Hub } from '../../server/events/hub.ts';

const test = suite('events: hub');

/** A server whose one request hands its response to `onStream`, and a client collecting the ids. */
async function connected(
  hub: Hub,
): Promise<{ server: Server; ids: () => string[]; stream: ReturnType<Hub['open']> }> {
  let body = '';
  let resolveStream: (response: ServerResponse) => void = () => {};
  const response = new Promise<ServerResponse>((resolve) => (resolveStream = resolve));
  const server = createServer((_request, res) => resolveStream(res)).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  void fetch(`http://127.0.0.1:${port}/`).then(async (res) => {
    const reader = res.body?.getReader();
    for (;;) {
      const chunk = await reader?.read().catch(() => undefined);
      if (!chunk || chunk.done) return;
      body += new TextDecoder().decode(chunk.value);
    }
  });
  const stream = hub.open('u', await response);
  return { server, stream, ids: () => [...body.matchAll(/^id: (\d+)$/gm)].map((m) => m[1] ?? '') };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 100));
const frame = (position: number) => formatFrame('message.created', { position }, position);

test('events the replay already sent are not sent again, whether held or arriving live', async () => {
  const hub = createHub({ maxBufferedBytes: 1 << 20, heartbeatMs: 60_000, retryMs: 1000 });
  const { server, stream, ids } = await connected(hub);
  try {
    hub.deliver(['u'], 2, frame(2)); // held during the replay
    for (const position of [1, 2, 3]) hub.replay(stream, position, frame(position));
    hub.goLive(stream);
    hub.deliver(['u'], 3, frame(3)); // the relay catching up on what the replay already sent
    hub.deliver(['u'], 4, frame(4));
    await settle();
    assert.equal(ids(), ['1', '2', '3', '4']);
  } finally {
    hub.endAll();
    hub.stop();
    server.close();
  }
});

test('a stream that stops reading is cut off once its buffer passes the bound', async () => {
  const hub = createHub({ maxBufferedBytes: 16_384, heartbeatMs: 60_000, retryMs: 1000 });
  let response: ServerResponse | undefined;
  const server = createServer((_request, res) => (response = res)).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  const { connect } = await import('node:net');
  const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  socket.pause(); // never reads
  try {
    while (!response) await new Promise((resolve) => setTimeout(resolve, 10));
    const stream = hub.open('slow', response);
    hub.goLive(stream);
    const big = 'x'.repeat(4000);
    for (let position = 1; position <= 5000 && !response.destroyed; position++) {
      hub.deliver(['slow'], position, formatFrame('message.created', { big }, position));
      if (position % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(response.destroyed, 'the slow stream was dropped');
    assert.is(hub.streamsOf('slow'), 0);
  } finally {
    socket.destroy();
    hub.stop();
    server.close();
  }
});

test.run();
