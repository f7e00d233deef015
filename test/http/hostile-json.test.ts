/** Any JSON a client can send answers 4xx with our error body: never a 500, whatever the shape or depth. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type TestApp, testApp } from '../helpers/http.ts';

const test = suite('http: hostile JSON');
let t: TestApp;

test.before(async () => {
  t = await testApp();
});
test.after(async () => t.close());

/** Written out as text: JSON.stringify itself overflows the stack on the deepest ones. */
const nestedUsers = (depth: number) => `{"users": ${'['.repeat(depth)}${']'.repeat(depth)}}`;

test('a jsonb argument of any JSON type is the function’s refusal, not a cast failure', async () => {
  for (const users of [true, false, 3, 'text', { user_id: 'x' }]) {
    const response = await t.call('admin', '/admin/rpc/import_users', { users });
    assert.is(response.status, 400, JSON.stringify(users));
    assert.is((response.body as { error: { code: string } }).error.code, 'MCARG');
  }
  const [{ count }] = await t.db.sql`select count(*)::int from chat_private.users`;
  assert.is(count, 0);
});

test('deeply nested JSON is refused with 400 at any depth', async () => {
  for (const depth of [65, 3000, 5000, 30000]) {
    const response = await t.call('admin', '/admin/rpc/import_users', undefined, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: nestedUsers(depth),
    });
    assert.is(response.status, 400, `depth ${depth}`);
    assert.is((response.body as { error: { code: string } }).error.code, 'MCARG');
  }
  // A shallow array still reaches the function's own checks.
  const shallow = await t.call('admin', '/admin/rpc/import_users', { users: [{ user_id: 'deep-ok' }] });
  assert.is(shallow.status, 200, JSON.stringify(shallow.body));
});

test('the event routes are mounted once', () => {
  const routes = t.app.routes.filter((route) => route.path === '/events' && route.method === 'GET');
  assert.ok(routes.length <= 1, `GET /events registered ${routes.length} times`);
});

test.run();
