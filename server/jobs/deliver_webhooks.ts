/**
 * Task `deliver_webhooks` {webhook_id, stream}: sends the pending deliveries of one webhook's stream,
 * oldest first, one at a time (the stream's graphile-worker queue runs one job at a time), until none
 * is left or one fails; a failure is recorded and the stream's job queued again for its retry by
 * chat_server.webhook_attempt_failed, so ordering survives retries and restarts.
 */
import type { Task } from 'graphile-worker';
import { Webhook } from 'standardwebhooks';
import type { Sql } from '../db.ts';
import { log } from '../logger.ts';
import { postWebhook } from '../webhooks/post.ts';

export interface WebhookSettings {
  webhookAllowPrivate: boolean;
  webhookTimeoutMs: number;
  webhookRetryHours: number;
  webhookRetryBaseMs: number;
  webhookRetryMaxMs: number;
}

interface Delivery {
  delivery_id: number;
  url: string;
  secret: string;
  event_type: string;
  payload: unknown;
  occurred_at: string;
  attempts: number;
}

/** What the receiver gets: the Standard Webhooks body and headers (webhook-id is stable per delivery). */
export function signedRequest(delivery: Delivery, now = new Date()) {
  const id = `msg_${delivery.delivery_id}`;
  const body = JSON.stringify({
    type: delivery.event_type,
    timestamp: delivery.occurred_at,
    data: delivery.payload,
  });
  const signature = new Webhook(delivery.secret).sign(id, now, body);
  return {
    body,
    headers: {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signature,
    },
  };
}

/**
 * An endpoint that keeps failing must not take every worker of the process: once it failed this many
 * times in a row, at most `FAILING_IN_FLIGHT` of its streams are tried at once, the others wait a retry
 * base without spending an attempt.
 */
const FAILING_AFTER = 3;
const FAILING_IN_FLIGHT = 2;
const failuresInARow = new Map<number, number>();
const inFlight = new Map<number, number>();

export function deliverWebhooks(sql: Sql, settings: WebhookSettings): Task {
  return async (payload, helpers) => {
    const { webhook_id: webhookId, stream } = payload as { webhook_id: number; stream: string };
    const { abortSignal } = helpers;
    for (;;) {
      // Shutting down: hand the rest of the stream to whichever process takes its job next.
      if (abortSignal.aborted) {
        await sql`select chat_server.defer_webhook_stream(${webhookId}, ${stream}, 0)`;
        return;
      }
      const [delivery] = await sql<Delivery[]>`
        select * from chat_server.next_webhook_delivery(${webhookId}, ${stream})`;
      if (!delivery) return;
      const busy = inFlight.get(webhookId) ?? 0;
      if ((failuresInARow.get(webhookId) ?? 0) >= FAILING_AFTER && busy >= FAILING_IN_FLIGHT) {
        await sql`select chat_server.defer_webhook_stream(${webhookId}, ${stream}, ${settings.webhookRetryBaseMs})`;
        return;
      }
      const { body, headers } = signedRequest(delivery);
      inFlight.set(webhookId, busy + 1);
      const result = await postWebhook(delivery.url, body, {
        headers,
        timeoutMs: settings.webhookTimeoutMs,
        allowPrivate: settings.webhookAllowPrivate,
        signal: abortSignal,
      }).finally(() => inFlight.set(webhookId, (inFlight.get(webhookId) ?? 1) - 1));
      if (result.ok) {
        failuresInARow.delete(webhookId);
        await sql`select chat_server.webhook_delivered(${delivery.delivery_id}, ${result.status})`;
        continue;
      }
      if (abortSignal.aborted) continue; // not the receiver's failure: no attempt spent
      failuresInARow.set(webhookId, (failuresInARow.get(webhookId) ?? 0) + 1);
      const [{ outcome }] = await sql<{ outcome: string }[]>`
        select chat_server.webhook_attempt_failed(${delivery.delivery_id}, ${result.status}, ${result.error},
          ${settings.webhookRetryBaseMs}, ${settings.webhookRetryMaxMs}, ${settings.webhookRetryHours}) as outcome`;
      if (outcome === 'failed') {
        log.warn(
          { webhook_id: webhookId, delivery_id: delivery.delivery_id, reason: result.error },
          'webhook delivery failed for good',
        );
        continue;
      }
      return;
    }
  };
}
