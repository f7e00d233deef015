/** The README's settings table and .env.example are what `npm run config:docs` makes of the declarations. */
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { envExample, readmeSettingsRegion, sections, settingsRegion } from '../../server/config/docs.ts';
import { loadConfig } from '../../server/config.ts';

const fix = 'out of date: run `npm run config:docs` and commit the result';
const repoFile = (name: string) => readFileSync(new URL(`../../${name}`, import.meta.url), 'utf8');

test('the README settings table matches the declared settings', () => {
  assert.fixture(
    readmeSettingsRegion(repoFile('README.md')),
    settingsRegion(),
    `README.md settings table ${fix}`,
  );
});

test('.env.example matches the declared settings', () => {
  assert.fixture(repoFile('.env.example'), envExample(), `.env.example ${fix}`);
});

test('each setting is declared once, with a doc', () => {
  const names = sections().flatMap((section) => section.settings.map((setting) => setting.env));
  assert.equal(names, [...new Set(names)]);
  for (const section of sections()) {
    for (const setting of section.settings) assert.ok(setting.doc.trim(), `${setting.env} has no doc`);
  }
});

test('every default in the docs is one the parser accepts', () => {
  // Setting each variable to its documented default must change nothing.
  const defaults = Object.fromEntries(
    sections().flatMap((section) =>
      section.settings.flatMap((setting) => (setting.default ? [[setting.env, setting.default]] : [])),
    ),
  );
  assert.equal(loadConfig(defaults, '/'), loadConfig({}, '/'));
});

test.run();
