/**
 * The baseline of the Hono layer benchmark: the same answer as bench/lib/hono-hello.ts
 * (`{"status":"ok"}`, application/json) from a bare node:http server with the same timeouts.
 * Prints "listening on <url>"; stops on SIGTERM/SIGINT.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../server/config.ts';

const config = loadConfig({ PORT: '0', HOST: '127.0.0.1' });
const server = createServer(
  { headersTimeout: config.headersTimeout, requestTimeout: config.requestTimeout },
  (request, response) => {
    if (request.method === 'GET' && request.url === '/hello') {
      const body = JSON.stringify({ status: 'ok' });
      response.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      response.end(body);
    } else {
      response.writeHead(404).end();
    }
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
