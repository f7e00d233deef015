/** `npm run config:docs`: rewrites the README's settings table and .env.example from the declarations. */
import { readFileSync, writeFileSync } from 'node:fs';
import { envExample, withSettingsTable } from './docs.ts';

const readme = new URL('../../README.md', import.meta.url);
const example = new URL('../../.env.example', import.meta.url);

writeFileSync(readme, withSettingsTable(readFileSync(readme, 'utf8')));
writeFileSync(example, envExample());
console.log('wrote the settings table in README.md, and .env.example');
