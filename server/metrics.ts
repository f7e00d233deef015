/**
 * Prometheus metrics (prom-client), served at GET /metrics to holders of MICROCHATTER_METRICS_TOKEN.
 * One registry per app, so in-process tests and several apps in one process do not share counters.
 * Gauges that mirror state (open streams, queries in flight) are read when scraped, not kept in step.
 */
import { timingSafeEqual } from 'node:crypto';
import client from 'prom-client';

export interface MetricSources {
  /** Open event streams on this process. */
  openStreams?: () => number;
  /** Database queries of requests sent or waiting, and the pool's size (see sentWithin). */
  queriesInFlight?: () => number;
  poolMax?: number;
  /** Requests being handled now (load shedding's count). */
  requestsInFlight?: () => number;
  /** Webhook deliveries waiting to go out, and those that failed for good (read when scraped). */
  webhookBacklog?: () => Promise<{ pending: number; failed: number }>;
}

export interface Metrics {
  registry: client.Registry;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** Events handed to streams by the relay, and how long after its wake-up they were written. */
  observeRelay(events: number, seconds: number): void;
  /** Whether a request's Authorization header carries the metrics token. */
  authorised(header: string | undefined): boolean;
}

export function createMetrics(token: string, sources: MetricSources = {}): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'microchatter_' });
  const requests = new client.Counter({
    name: 'microchatter_http_requests_total',
    help: 'HTTP requests answered, by route, method and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new client.Histogram({
    name: 'microchatter_http_request_duration_seconds',
    help: 'Time to answer an HTTP request (to the response head for streams)',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const relayed = new client.Counter({
    name: 'microchatter_events_relayed_total',
    help: 'Events read from the log and handed to this process’s streams',
    registers: [registry],
  });
  const relayLag = new client.Histogram({
    name: 'microchatter_relay_lag_seconds',
    help: 'From the relay’s wake-up (NOTIFY or poll) to a batch of events written to streams',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const gauge = (name: string, help: string, read: (() => number) | undefined) => {
    if (!read) return;
    new client.Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  };
  gauge('microchatter_event_streams_open', 'Event streams open on this process', sources.openStreams);
  gauge(
    'microchatter_http_requests_in_flight',
    'Requests being handled (streams excepted)',
    sources.requestsInFlight,
  );
  const inFlight = sources.queriesInFlight;
  const poolMax = sources.poolMax ?? 10;
  if (inFlight) {
    gauge('microchatter_db_pool_in_use', 'Pool connections busy with request queries', () =>
      Math.min(inFlight(), poolMax),
    );
    gauge('microchatter_db_pool_waiting', 'Request queries waiting for a pool connection', () =>
      Math.max(0, inFlight() - poolMax),
    );
  }

  const backlog = sources.webhookBacklog;
  if (backlog) {
    for (const [state, help] of [
      ['pending', 'Webhook deliveries waiting to be delivered (queue depth)'],
      ['failed', 'Webhook deliveries that failed for good'],
    ] as const) {
      new client.Gauge({
        name: `microchatter_webhook_deliveries_${state}`,
        help,
        registers: [registry],
        async collect() {
          this.set((await backlog())[state]);
        },
      });
    }
  }

  const expected = Buffer.from(`Bearer ${token}`);
  return {
    registry,
    observeRequest(method, route, status, seconds) {
      requests.inc({ method, route, status: String(status) });
      latency.observe({ method, route }, seconds);
    },
    observeRelay(events, seconds) {
      relayed.inc(events);
      relayLag.observe(seconds);
    },
    authorised(header) {
      const given = Buffer.from(header ?? '');
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}
