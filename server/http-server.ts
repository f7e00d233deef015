/** Serves the app over HTTP, or HTTPS when TLS files are configured, with timeouts for slow clients. */
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Config } from './config.ts';

export interface RunningServer {
  server: ServerType;
  /** Base URL, e.g. https://127.0.0.1:8443 (the real port when PORT=0). */
  url: string;
  close(): Promise<void>;
}

type ServerSettings = Pick<Config, 'host' | 'port' | 'tls' | 'requestTimeout' | 'headersTimeout'>;

export function startHttpServer(app: Hono, config: ServerSettings): Promise<RunningServer> {
  const tls = config.tls;
  const options = {
    fetch: app.fetch,
    hostname: config.host,
    port: config.port,
    ...(tls
      ? {
          createServer: createHttpsServer,
          serverOptions: {
            key: readFileSync(tls.keyPath),
            cert: readFileSync(tls.certPath),
            ...(tls.caPath ? { ca: readFileSync(tls.caPath) } : {}),
          },
        }
      : {}),
  };
  return new Promise((resolve, reject) => {
    const server = serve(options, (info: AddressInfo) => {
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        server,
        url: `${tls ? 'https' : 'http'}://${host}:${info.port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
    server.once('error', reject);
    // A client that trickles its headers or body is cut off instead of holding a socket for ever.
    // (These apply to ordinary requests; long-lived event streams are answered before they matter.)
    const http = server as import('node:http').Server;
    http.headersTimeout = config.headersTimeout;
    http.requestTimeout = config.requestTimeout;
  });
}
