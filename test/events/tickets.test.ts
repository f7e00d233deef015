/**
 * Stream authentication: single-use tickets for browsers' EventSource (which cannot send headers),
 * Bearer tokens, the admin token refused, streams ending when their credential expires, and no
 * credential ever printed by the server.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ADMIN_TOKEN } from '../helpers/http.ts';
import {
  captureConsole,
  type RealtimeServer,
  realtimeServer,
  type StreamClient,
  streamClient,
  tokenExpiringIn,
  waitFor,
} from '../helpers/realtime.ts';

const test = suite('events: tickets and stream credentials');
let s: RealtimeServer;
let logs: Awaited<ReturnType<typeof captureConsole>>;
/** Every token and ticket this suite used: none may appear in what the server printed. */
const credentials = new Set<string>();
const clients: StreamClient[] = [];
const PASSWORD = 'pat-has-a-long-password';
const patBasic = `Basic ${Buffer.from(`pat:${PASSWORD}`).toString('base64')}`;

test.before(async () => {
  logs = await captureConsole();
  // No clock tolerance: a token past its `exp` is refused at once, as the expiry tests expect.
  s = await realtimeServer({ MICROCHATTER_JWT_CLOCK_TOLERANCE: '0' });
  await s.call('admin', '/admin/rpc/import_users', {
    users: ['ann', 'ben', 'cat', 'dan', 'eve'].map((user_id) => ({ user_id })),
  });
  const created = await s.call('admin', '/admin/rpc/create_user', { user_id: 'pat', password: PASSWORD });
  assert.is(created.status, 200, JSON.stringify(created.body));
});
test.after(async () => {
  for (const client of clients) client.close();
  logs.restore();
  await s.close();
});

async function bearer(userId: string): Promise<string> {
  const token = await s.tokenFor(userId);
  credentials.add(token);
  return token;
}

/** POST /events/ticket with a Bearer token (or a full Authorization header value). */
async function createTicket(credential: string): Promise<{ ticket: string; expires_at: string }> {
  const authorization = credential.startsWith('Basic ') ? credential : `Bearer ${credential}`;
  const response = await fetch(`${s.url}/events/ticket`, { method: 'POST', headers: { authorization } });
  const text = await response.text();
  assert.is(response.status, 200, text);
  const body = JSON.parse(text) as { ticket: string; expires_at: string };
  credentials.add(body.ticket);
  return body;
}

/** The status of a request, with its body (if any) read and, for a stream opened by mistake, cut. */
async function statusOf(url: string, init: RequestInit = {}): Promise<{ status: number; code?: string }> {
  const controller = new AbortController();
  const response = await fetch(url, { ...init, signal: controller.signal });
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    controller.abort();
    return { status: response.status };
  }
  const text = await response.text();
  const code = text ? (JSON.parse(text) as { error?: { code?: string } }).error?.code : undefined;
  return code === undefined ? { status: response.status } : { status: response.status, code };
}

const ticketUrl = (ticket: string) => `${s.url}/events?ticket=${encodeURIComponent(ticket)}`;

async function browserStream(ticket: string): Promise<StreamClient> {
  const client = await streamClient(ticketUrl(ticket));
  clients.push(client);
  return client;
}

const ticketRows = async (ticket: string) =>
  (
    await s.db.sql<{ n: number }[]>`
      select count(*)::int as n from chat_private.stream_tickets
      where ticket_hash = sha256(convert_to(${ticket}, 'UTF8'))`
  )[0]?.n;

async function singleUse(userId: string, credential: string, sender: string) {
  const before = Date.now();
  const { ticket, expires_at } = await createTicket(credential);
  assert.type(ticket, 'string');
  assert.ok(ticket.length >= 32, `a ticket long enough not to be guessed: ${ticket}`);
  const expires = Date.parse(expires_at);
  assert.ok(expires > before && expires <= Date.now() + 61_000, `valid for at most 60 s: ${expires_at}`);
  assert.is(await ticketRows(ticket), 1, 'stored (as a hash) until used');

  const client = await browserStream(ticket);
  assert.is(client.events[0]?.type, 'ready');
  assert.is(s.realtime.hub.streamsOf(userId), 1);
  const sent = await s.rpc(sender, 'send_message', { recipient: userId, body: 'through a ticket' });
  await client.until((events) => events.some((e) => e.type === 'message.created'));
  assert.equal(client.bodies(), ['through a ticket']);
  assert.equal(client.events.find((e) => e.type === 'message.created')?.data.message, sent);
  assert.is(await ticketRows(ticket), 0, 'used up');

  // Single use: the same URL again, while the first stream is still open, and after it closed.
  assert.equal(await statusOf(ticketUrl(ticket)), { status: 401, code: 'MCAUT' });
  client.close();
  await waitFor(() => s.realtime.hub.streamsOf(userId) === 0, 'the closed stream to go');
  assert.equal(await statusOf(ticketUrl(ticket)), { status: 401, code: 'MCAUT' });
}

test('a ticket made with Basic credentials opens a header-less stream once; the second use is refused', () =>
  singleUse('pat', patBasic, 'ann'));

test('a ticket made with a Bearer token opens a header-less stream once; the second use is refused', async () =>
  singleUse('ben', await bearer('ben'), 'ann'));

test('five redemptions of one ticket at the same time: exactly one stream', async () => {
  const { ticket } = await createTicket(patBasic);
  const results = await Promise.all(Array.from({ length: 5 }, () => statusOf(ticketUrl(ticket))));
  assert.equal(results.map((r) => r.status).sort(), [200, 401, 401, 401, 401], JSON.stringify(results));
});

test('an expired ticket, an unknown one, none at all: 401', async () => {
  const { ticket } = await createTicket(await bearer('ben'));
  const expired = await s.db.sql`
    update chat_private.stream_tickets set expires_at = now() - interval '1 second'
    where ticket_hash = sha256(convert_to(${ticket}, 'UTF8'))`;
  assert.is(expired.count, 1);
  assert.equal(await statusOf(ticketUrl(ticket)), { status: 401, code: 'MCAUT' });

  // Made through SQL with a validity that has already run out.
  const [made] = await s.db.sql<{ ticket: string }[]>`
    select ticket from chat_server.create_stream_ticket('ben', null, interval '-1 second')`;
  assert.ok(made);
  credentials.add(made.ticket);
  assert.equal(await statusOf(ticketUrl(made.ticket)), { status: 401, code: 'MCAUT' });

  const unknown = 'f'.repeat(64);
  assert.equal(await statusOf(ticketUrl(unknown)), { status: 401, code: 'MCAUT' });
  assert.equal((await statusOf(ticketUrl(''))).status, 401);
  assert.equal((await statusOf(`${s.url}/events`)).status, 401);
  assert.equal((await statusOf(`${s.url}/events/ticket`, { method: 'POST' })).status, 401);
  // A ticket is not a Bearer token.
  const { ticket: another } = await createTicket(await bearer('ben'));
  const asBearer = await statusOf(`${s.url}/events`, { headers: { authorization: `Bearer ${another}` } });
  assert.is(asBearer.status, 401);
});

test('the admin token opens no stream and gets no ticket: 403', async () => {
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
  assert.equal(await statusOf(`${s.url}/events`, { headers }), { status: 403, code: 'MCUSR' });
  assert.equal(await statusOf(`${s.url}/events/ticket`, { method: 'POST', headers }), {
    status: 403,
    code: 'MCUSR',
  });
});

/** Waits for `expired` and returns when it came (epoch ms). */
async function expiredAt(client: StreamClient): Promise<number> {
  await client.until((events) => events.some((e) => e.type === 'expired'), 10_000);
  return Date.now();
}

test("a ticket's stream ends with `expired` when the token it was made from expires", async () => {
  const { token, exp } = await tokenExpiringIn('dan', 2);
  credentials.add(token);
  const { ticket } = await createTicket(token);
  const dan = await browserStream(ticket);
  assert.is(s.realtime.hub.streamsOf('dan'), 1);
  const ended = await expiredAt(dan);
  assert.ok(ended >= exp * 1000 - 100, `not before the token's exp (${ended - exp * 1000} ms)`);
  assert.ok(ended <= exp * 1000 + 2000, `soon after the token's exp (${ended - exp * 1000} ms)`);
  const event = dan.events.find((e) => e.type === 'expired');
  assert.equal(event?.data, { reason: 'credential expired' });
  // The server hung up; the browser's automatic reconnect reuses the spent ticket, is refused, and stops.
  await waitFor(() => s.realtime.hub.streamsOf('dan') === 0, "the server ending dan's stream");
  await waitFor(() => dan.source.readyState === dan.source.CLOSED, 'the EventSource giving up');
  assert.is(dan.events.filter((e) => e.type === 'ready').length, 1, 'never reopened');
});

test('a Bearer stream ends with `expired` when its token expires, and is not reopened with it', async () => {
  const { token, exp } = await tokenExpiringIn('eve', 2);
  credentials.add(token);
  const eve = await s.stream('eve', { token });
  clients.push(eve);
  await s.rpc('ann', 'send_message', { recipient: 'eve', body: 'before expiry' });
  await eve.until((events) => events.some((e) => e.type === 'message.created'));
  const ended = await expiredAt(eve);
  assert.ok(ended >= exp * 1000 - 100, `not before the token's exp (${ended - exp * 1000} ms)`);
  assert.ok(ended <= exp * 1000 + 2000, `soon after the token's exp (${ended - exp * 1000} ms)`);
  await waitFor(() => s.realtime.hub.streamsOf('eve') === 0, "the server ending eve's stream");
  // The reconnect with the same, now expired, token is refused: the client stops instead of looping.
  await waitFor(() => eve.source.readyState === eve.source.CLOSED, 'the EventSource giving up');
  assert.is(eve.events.filter((e) => e.type === 'ready').length, 1, 'never reopened');
  assert.equal(
    (await statusOf(`${s.url}/events`, { headers: { authorization: `Bearer ${token}` } })).status,
    401,
  );
});

test('with the default clock tolerance, an expired token does not reopen its stream', async () => {
  const lenient = await realtimeServer();
  try {
    await lenient.call('admin', '/admin/rpc/import_users', {
      users: [{ user_id: 'ann' }, { user_id: 'ben' }],
    });
    const { token } = await tokenExpiringIn('ben', 1);
    credentials.add(token);
    const ben = await lenient.stream('ben', { token });
    await ben.until((events) => events.some((e) => e.type === 'expired'), 10_000);
    // The helper's retry hint is 50 ms: a loop would reopen the stream many times in a second.
    await waitFor(() => ben.source.readyState === ben.source.CLOSED, 'the EventSource giving up', 3000);
    assert.is(ben.events.filter((e) => e.type === 'ready').length, 1, 'reopened after expiry');
  } finally {
    await lenient.close();
  }
});

test("a ticket redeemed after its token's expiry opens nothing and replays nothing", async () => {
  await s.rpc('ann', 'send_message', { recipient: 'cat', body: 'not for an expired credential' });
  const { token, exp } = await tokenExpiringIn('cat', 1);
  credentials.add(token);
  const { ticket } = await createTicket(token);
  await waitFor(() => Date.now() > exp * 1000 + 200, "the token's expiry", 5000);
  const response = await fetch(`${ticketUrl(ticket)}&last_event_id=0`);
  const text = await response.text();
  assert.is(response.status, 401, text);
  assert.not.match(text, 'not for an expired credential');
});

test('a failure while redeeming a ticket is logged without the ticket', async () => {
  const { ticket } = await createTicket(await bearer('ben'));
  // Hold the tickets table so the redemption waits, then cut the connection it waits on.
  const holder = await s.db.sql.reserve();
  try {
    await holder`begin`;
    await holder`lock table chat_private.stream_tickets in access exclusive mode`;
    const request = statusOf(ticketUrl(ticket));
    const waiting = async () =>
      (
        await s.db.sql<{ pid: number }[]>`
          select pid from pg_stat_activity
          where datname = current_database() and query ilike '%redeem_stream_ticket%'
            and pid <> pg_backend_pid() and wait_event_type = 'Lock'`
      ).length > 0;
    await waitFor(waiting, 'the redemption waiting on the lock');
    const terminated = await s.db.sql<{ ok: boolean }[]>`
      select pg_terminate_backend(pid) as ok from pg_stat_activity
      where datname = current_database() and query ilike '%redeem_stream_ticket%'
        and pid <> pg_backend_pid() and wait_event_type = 'Lock'`;
    assert.ok(terminated.length >= 1);
    assert.equal(await request, { status: 503, code: 'MCDBX' });
  } finally {
    await holder`rollback`.catch(() => undefined);
    holder.release();
  }
  assert.match(logs.output(), 'database unavailable', 'the failure was logged');
});

test('no token or ticket ever appears in what the server printed', () => {
  assert.ok(credentials.size >= 8, `the suite used ${credentials.size} credentials`);
  const output = logs.output();
  for (const credential of credentials) {
    assert.not.ok(output.includes(credential), `a credential was printed: ${credential.slice(0, 12)}…`);
  }
  assert.not.ok(output.includes(ADMIN_TOKEN), 'the admin token was printed');
});

test.run();
