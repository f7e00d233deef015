/** A real webhook receiver on 127.0.0.1 for the suites: records every request, answers as told. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

/** What to do with the nth request (from 0): a status, or 'hang' (never answer). */
export type Answer = number | 'hang' | ((request: Received, res: http.ServerResponse) => void);

export interface Receiver {
  url: string;
  /** Every request, failed attempts included. */
  requests: Received[];
  /** The requests answered 2xx. */
  accepted(): Received[];
  answer: (index: number, request: Received) => Answer;
  /** Resolves once `count` requests were accepted (or rejects after `ms`). */
  waitForAccepted(count: number, ms?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(answer: Receiver['answer'] = () => 200): Promise<Receiver> {
  const requests: Received[] = [];
  const accepted: Received[] = [];
  const waiters: (() => boolean)[] = [];
  const receiver: Receiver = {
    url: '',
    requests,
    accepted: () => accepted,
    answer,
    waitForAccepted(count, ms = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${accepted.length} of ${count} deliveries accepted after ${ms} ms`)),
          ms,
        );
        const check = () => {
          if (accepted.length < count) return false;
          clearTimeout(timer);
          resolve(accepted);
          return true;
        };
        if (!check()) waiters.push(check);
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: Received = {
        path: req.url ?? '',
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      const index = requests.length;
      requests.push(request);
      const what = receiver.answer(index, request);
      if (what === 'hang') return;
      if (typeof what === 'function') return what(request, res);
      res.statusCode = what;
      res.end();
      if (what >= 200 && what < 300) {
        accepted.push(request);
        for (const waiter of waiters.splice(0)) if (!waiter()) waiters.push(waiter);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}
