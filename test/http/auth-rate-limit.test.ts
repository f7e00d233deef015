/**
 * The token-bucket limiter (login failures, message sending), kept in PostgreSQL. Time is moved by
 * shifting the stored bucket rather than by waiting.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRateLimiter } from '../../server/rate-limit.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const test = suite('http: rate limiter');
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase();
});
test.after(async () => db.drop());

/** Moves the clock forward for every bucket. */
const advance = (seconds: number) =>
  db.sql`update chat_private.rate_limits set refilled_at = refilled_at - ${seconds} * interval '1 second'`;

test('a burst of limit passes, then Retry-After counts down to the next token', async () => {
  const limiter = createRateLimiter({ sql: db.sql, bucket: 'burst', limit: 3, windowSeconds: 60 });
  for (let i = 0; i < 3; i++) assert.equal(await limiter.take('k'), { ok: true });
  assert.equal(await limiter.take('k'), { ok: false, retryAfterSeconds: 20 });
  await advance(15);
  assert.equal(await limiter.take('k'), { ok: false, retryAfterSeconds: 5 });
  await advance(5);
  assert.equal(await limiter.take('k'), { ok: true });
  assert.is((await limiter.take('k')).ok, false);
});

test('keys and buckets are independent; a refused take takes nothing', async () => {
  const limiter = createRateLimiter({ sql: db.sql, bucket: 'keys', limit: 1, windowSeconds: 10 });
  const other = createRateLimiter({ sql: db.sql, bucket: 'other', limit: 1, windowSeconds: 10 });
  assert.ok((await limiter.take('a')).ok);
  assert.ok((await limiter.take('b')).ok);
  assert.ok((await other.take('a')).ok);
  for (let i = 0; i < 5; i++) assert.not.ok((await limiter.take('a')).ok);
  await advance(10);
  assert.ok((await limiter.take('a')).ok, 'refused attempts did not push the next token further away');
});

test('giveBack returns a token; reset forgets the key', async () => {
  const limiter = createRateLimiter({ sql: db.sql, bucket: 'give', limit: 2, windowSeconds: 60 });
  assert.ok((await limiter.take('k')).ok);
  assert.ok((await limiter.take('k')).ok);
  await limiter.giveBack('k');
  assert.ok((await limiter.take('k')).ok);
  assert.not.ok((await limiter.take('k')).ok);
  await limiter.reset('k');
  assert.ok((await limiter.take('k')).ok);
  await limiter.giveBack('unknown');
  await limiter.giveBack('k');
  await limiter.giveBack('k');
  // A full bucket stays full: two more, not three.
  assert.ok((await limiter.take('k')).ok);
  assert.ok((await limiter.take('k')).ok);
  assert.not.ok((await limiter.take('k')).ok);
});

test('a Retry-After is never below 1 second; a burst rounds to no fewer than limit tokens', async () => {
  const limiter = createRateLimiter({ sql: db.sql, bucket: 'fast', limit: 7, windowSeconds: 1 });
  for (let i = 0; i < 7; i++) assert.ok((await limiter.take('k')).ok, `take ${i + 1} of 7`);
  const refused = await limiter.take('k');
  assert.equal(refused, { ok: false, retryAfterSeconds: 1 });
});

test('many concurrent takes on one key hand out exactly limit tokens', async () => {
  const limiter = createRateLimiter({ sql: db.sql, bucket: 'race', limit: 5, windowSeconds: 3600 });
  const decisions = await Promise.all(Array.from({ length: 40 }, () => limiter.take('k')));
  assert.is(decisions.filter((decision) => decision.ok).length, 5);
});

test('unicode forms of one key are one bucket', async () => {
  const limiter = createRateLimiter({ sql: db.sql, bucket: 'nfc', limit: 1, windowSeconds: 60 });
  assert.ok((await limiter.take('Jos\u00e9')).ok);
  assert.not.ok((await limiter.take('Jose\u0301')).ok);
});

test('refilled buckets are pruned with the events', async () => {
  const limiter = createRateLimiter({ sql: db.sql, bucket: 'prune', limit: 2, windowSeconds: 60 });
  await limiter.take('spent');
  await limiter.take('kept');
  await limiter.take('kept');
  await db.sql`update chat_private.rate_limits set refilled_at = now() - interval '1 second' where key = 'spent'`;
  await db.sql`select chat_server.prune_events()`;
  const keys = await db.sql`select key from chat_private.rate_limits where bucket = 'prune'`;
  assert.equal(
    keys.map((row) => row.key),
    ['kept'],
  );
});

test('invalid options are refused', () => {
  assert.throws(() => createRateLimiter({ sql: db.sql, bucket: 'x', limit: 0, windowSeconds: 60 }));
  assert.throws(() => createRateLimiter({ sql: db.sql, bucket: 'x', limit: 5, windowSeconds: 0 }));
});

test.run();
