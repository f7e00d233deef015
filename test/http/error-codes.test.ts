/** The error codes stay in step across the three places that name them: SQL, the HTTP table, the docs. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { statusByCode } from '../../server/errors.ts';

const test = suite('error codes');

const sqlFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sqlFiles(path.join(dir, entry.name)) : [path.join(dir, entry.name)],
  );

test('every code the SQL raises has an HTTP status and a line in docs/errors.md', () => {
  const raised = new Set(
    sqlFiles('functions').flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/errcode = '(\w{5})'/g)].map((match) => match[1] ?? ''),
    ),
  );
  assert.ok(raised.size >= 10);
  const docs = readFileSync('docs/errors.md', 'utf8');
  for (const code of raised) {
    assert.ok(code in statusByCode, `${code} is in server/errors.ts`);
    assert.match(docs, `\`${code}\``, `${code} is documented`);
  }
  for (const code of Object.keys(statusByCode)) assert.match(docs, `\`${code}\``, `${code} is documented`);
});

test("our codes keep clear of PostgreSQL's classes", () => {
  for (const code of Object.keys(statusByCode)) {
    assert.match(code, /^[A-EG-OQ-WYZ][A-Z0-9][1-9A-OQ-Z][A-Z][A-Z0-9]$/, code);
  }
});

test.run();
