/**
 * Serves the app over HTTP, or HTTPS when TLS files are configured. A client that trickles its headers
 * or body is cut off after the configured timeouts instead of holding a socket for ever.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Config } from './config.ts';

/** How long requests in flight at shutdown may take before their connections are cut. */
const CLOSE_GRACE_MS = 2000;

export interface RunningServer {
  server: ServerType;
  /** Base URL, e.g. https://127.0.0.1:8443 (the real port when PORT=0). */
  url: string;
  close(): Promise<void>;
}

type ServerSettings = Pick<Config, 'host' | 'port' | 'tls' | 'requestTimeout' | 'headersTimeout'>;

export function startHttpServer(app: Hono, config: ServerSettings): Promise<RunningServer> {
  const tls = config.tls;
  // Node checks the header and request timeouts on this interval (default 30 s); check often enough
  // that a timeout of a few seconds means what it says.
  const timing = {
    headersTimeout: config.headersTimeout,
    requestTimeout: config.requestTimeout,
    connectionsCheckingInterval: Math.min(1000, config.headersTimeout),
  };
  const options = {
    fetch: app.fetch,
    hostname: config.host,
    port: config.port,
    ...(tls
      ? {
          createServer: createHttpsServer,
          serverOptions: {
            ...timing,
            key: readFileSync(tls.keyPath),
            cert: readFileSync(tls.certPath),
            ...(tls.caPath ? { ca: readFileSync(tls.caPath) } : {}),
          },
        }
      : { serverOptions: timing }),
  };
  return new Promise((resolve, reject) => {
    const server = serve(options, (info: AddressInfo) => {
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        server,
        url: `${tls ? 'https' : 'http'}://${host}:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Keep-alive connections would hold close() open for as long as their clients keep using
            // them (a browser retrying its event stream does): in-flight requests get a grace period.
            const http = server as import('node:http').Server;
            http.closeIdleConnections();
            setTimeout(() => http.closeAllConnections(), CLOSE_GRACE_MS).unref();
          }),
      });
    });
    server.once('error', reject);
  });
}
