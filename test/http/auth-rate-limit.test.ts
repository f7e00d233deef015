/** The generic token-bucket limiter (login failures here, message sending elsewhere), on a fake clock. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRateLimiter } from '../../server/rate-limit.ts';

function clock() {
  let time = 1_000_000;
  return {
    now: () => time,
    advance: (ms: number) => {
      time += ms;
    },
  };
}

test('a burst of limit passes, then Retry-After counts down to the next token', () => {
  const { now, advance } = clock();
  const limiter = createRateLimiter({ limit: 3, windowSeconds: 60, now });
  for (let i = 0; i < 3; i++) assert.equal(limiter.take('k'), { ok: true });
  assert.equal(limiter.take('k'), { ok: false, retryAfterSeconds: 20 });
  advance(15_000);
  assert.equal(limiter.take('k'), { ok: false, retryAfterSeconds: 5 });
  advance(5_000);
  assert.equal(limiter.take('k'), { ok: true });
  assert.is(limiter.take('k').ok, false);
});

test('keys are independent; a refused take takes nothing', () => {
  const { now, advance } = clock();
  const limiter = createRateLimiter({ limit: 1, windowSeconds: 10, now });
  assert.ok(limiter.take('a').ok);
  assert.ok(limiter.take('b').ok);
  for (let i = 0; i < 5; i++) assert.not.ok(limiter.take('a').ok);
  advance(10_000);
  assert.ok(limiter.take('a').ok, 'refused attempts did not push the next token further away');
});

test('giveBack returns a token; reset forgets the key', () => {
  const { now } = clock();
  const limiter = createRateLimiter({ limit: 2, windowSeconds: 60, now });
  assert.ok(limiter.take('k').ok);
  assert.ok(limiter.take('k').ok);
  limiter.giveBack('k');
  assert.ok(limiter.take('k').ok);
  assert.not.ok(limiter.take('k').ok);
  limiter.reset('k');
  assert.ok(limiter.take('k').ok);
  limiter.giveBack('unknown');
  assert.is(limiter.size(), 1);
});

test('a Retry-After is never below 1 second', () => {
  const { now, advance } = clock();
  const limiter = createRateLimiter({ limit: 1000, windowSeconds: 1, now });
  for (let i = 0; i < 1000; i++) limiter.take('k');
  advance(0.5);
  assert.equal(limiter.take('k'), { ok: false, retryAfterSeconds: 1 });
});

test('memory stays bounded: refilled keys are forgotten, and at most maxKeys are held', () => {
  const { now, advance } = clock();
  const limiter = createRateLimiter({ limit: 5, windowSeconds: 1, maxKeys: 100, now });
  for (let i = 0; i < 10_000; i++) limiter.take(`flood-${i}`);
  assert.is(limiter.size(), 100);
  advance(2_000);
  for (let i = 0; i < 60; i++) limiter.take(`later-${i}`);
  // Each write looks at the oldest keys; refilled ones go.
  assert.ok(limiter.size() < 100, `size ${limiter.size()}`);
});

test('the most recently limited keys survive eviction', () => {
  const { now } = clock();
  const limiter = createRateLimiter({ limit: 1, windowSeconds: 3600, maxKeys: 10, now });
  limiter.take('attacker');
  for (let i = 0; i < 9; i++) limiter.take(`other-${i}`);
  limiter.take('attacker');
  limiter.take('one-more');
  assert.not.ok(limiter.take('attacker').ok);
});

test('invalid options are refused', () => {
  assert.throws(() => createRateLimiter({ limit: 0, windowSeconds: 60 }));
  assert.throws(() => createRateLimiter({ limit: 5, windowSeconds: 0 }));
});

test.run();
