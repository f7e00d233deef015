/**
 * The baseline of the attachment benchmark: the same two routes as Microchatter's attachments, from a
 * bare node:http server that streams the bytes to a file and back (`POST /attachments` → 201
 * `{"attachment_id", "size"}`, `GET /attachments/<id>` → the bytes with Content-Length), with the
 * same timeouts. No database, no authentication: what moving the bytes costs at best on this machine.
 * Files go to a temporary directory, removed on exit. Prints "listening on <url>"; stops on
 * SIGTERM/SIGINT.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { loadConfig } from '../../server/config.ts';

const config = loadConfig({ PORT: '0', HOST: '127.0.0.1' });
const dir = mkdtempSync(path.join(tmpdir(), 'microchatter-bench-files-'));
const ID = /^\/attachments\/([0-9a-f-]{36})$/;

const server = createServer(
  { headersTimeout: config.headersTimeout, requestTimeout: config.requestTimeout },
  (request, response) => {
    const download = ID.exec(request.url ?? '');
    if (request.method === 'POST' && request.url?.startsWith('/attachments?')) {
      const id = randomUUID();
      const file = path.join(dir, id);
      pipeline(request, createWriteStream(file)).then(
        () => {
          const body = JSON.stringify({ attachment_id: id, size: statSync(file).size });
          response.writeHead(201, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          });
          response.end(body);
        },
        () => response.destroy(),
      );
    } else if (request.method === 'GET' && download?.[1]) {
      const file = path.join(dir, download[1]);
      response.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': statSync(file).size,
      });
      pipeline(createReadStream(file), response).catch(() => response.destroy());
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
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
process.on('SIGTERM', stop).on('SIGINT', stop);
