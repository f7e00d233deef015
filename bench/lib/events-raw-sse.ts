/**
 * The baseline of the realtime benchmark (bench/events.ts): the least a node:http server can do to
 * serve Server-Sent Events. No framework, no authentication, no database: streams in a Map by user,
 * frames written straight to the ServerResponse with the same headers as server/events/hub.ts.
 *
 * - `GET /events?user=U`: the headers, a `retry:` hint and a `ready` frame (as Microchatter sends once
 *   a stream is live), then the stream stays open. `Last-Event-ID` is read and ignored: nothing to
 *   replay.
 * - `POST /broadcast` (body: one line of JSON): one frame with that data, written to every stream.
 * - `POST /send?to=U` (body: one line of JSON): one frame to U's streams (the echo baseline of the
 *   latency figures).
 *
 * Prints "listening on <url>"; stops on SIGTERM/SIGINT.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../server/config.ts';

const config = loadConfig({ PORT: '0', HOST: '127.0.0.1' });
const byUser = new Map<string, Set<ServerResponse>>();
let position = 0;

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
    });
    request.once('end', () => resolve(body));
    request.once('error', reject);
  });
}

function frame(data: string): string {
  position++;
  return `id: ${position}\nevent: message.created\ndata: ${data}\n\n`;
}

function open(user: string, response: ServerResponse): void {
  response.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  response.write('retry: 2000\n\n');
  response.write(`id: ${position}\nevent: ready\ndata: {"position":${position}}\n\n`);
  const streams = byUser.get(user) ?? new Set<ServerResponse>();
  byUser.set(user, streams);
  streams.add(response);
  response.once('close', () => {
    streams.delete(response);
    if (streams.size === 0) byUser.delete(user);
  });
}

const server = createServer(
  { headersTimeout: config.headersTimeout, requestTimeout: config.requestTimeout },
  (request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    if (request.method === 'GET' && url.pathname === '/events') {
      open(url.searchParams.get('user') ?? '', response);
      return;
    }
    if (request.method === 'POST' && (url.pathname === '/broadcast' || url.pathname === '/send')) {
      readBody(request).then(
        (data) => {
          const text = frame(data);
          const to = url.searchParams.get('to');
          let written = 0;
          const targets = to === null ? byUser.values() : [byUser.get(to) ?? new Set<ServerResponse>()];
          for (const streams of targets) {
            for (const stream of streams) {
              stream.write(text);
              written++;
            }
          }
          const body = JSON.stringify({ written });
          response.writeHead(200, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          });
          response.end(body);
        },
        () => response.writeHead(400).end(),
      );
      return;
    }
    response.writeHead(404).end();
  },
);
server.listen(config.port, config.host, () => {
  const { port } = server.address() as AddressInfo;
  console.log(`listening on http://${config.host}:${port}`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop).on('SIGINT', stop);
