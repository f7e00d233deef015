/**
 * The committed client/src/generated/api.ts is what the generator makes of the SQL now: a new or
 * changed chat function without `npm run client:types` fails here.
 */
import { readFile } from 'node:fs/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GENERATED_FILE, generatedApi } from '../../client/scripts/generate-api.ts';
import { renderApi } from '../../client/scripts/render-api.ts';
import { chatFunctions } from '../../client/src/index.ts';
import { loadCatalog } from '../../server/catalog.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

let db: TestDatabase;
test.before(async () => {
  db = await freshDatabase({ max: 1 });
});
test.after(async () => {
  await db.drop();
});

test('the committed types are what `npm run client:types` generates from the migrated schema', async () => {
  const committed = await readFile(GENERATED_FILE, 'utf8');
  const now = await generatedApi(db.sql);
  if (committed !== now) {
    const a = committed.split('\n');
    const b = now.split('\n');
    const line = a.findIndex((text, i) => text !== b[i]);
    assert.unreachable(
      `client/src/generated/api.ts is out of date (first difference at line ${line + 1}: ` +
        `${JSON.stringify(a[line])} vs ${JSON.stringify(b[line])}): run \`npm run client:types\``,
    );
  }
});

test('every user function of schema chat is a client method, and nothing else', async () => {
  const catalog = await loadCatalog(db.sql);
  const sqlNames = catalog.functions.filter((f) => f.schema === 'chat').map((f) => f.name);
  assert.equal(Object.keys(chatFunctions).sort(), sqlNames.sort());
  assert.not.ok(
    Object.keys(chatFunctions).some((name) => name.startsWith('chat_admin')),
    'no admin function in the user client',
  );
});

test('a function named like a client helper is refused by the generator', async () => {
  const catalog = await loadCatalog(db.sql);
  const events = { ...catalog.functions.find((f) => f.schema === 'chat' && f.name === 'me'), name: 'events' };
  const clashing = { ...catalog, functions: [...catalog.functions, events as (typeof catalog.functions)[0]] };
  assert.throws(() => renderApi(clashing, {}), /shadow/);
});

test.run();
