/**
 * microchatter-client as a user gets it: `npm pack` of client/, installed from the tarball into a
 * scratch project, imported from Node and used against a live server. Also: the package's source
 * imports nothing outside client/src, and it has no runtime dependencies.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type RealtimeServer, realtimeServer } from '../helpers/realtime.ts';

const run = promisify(execFile);
const clientDir = path.resolve('client');
let t: RealtimeServer;
let scratch: string;

test.before(async () => {
  t = await realtimeServer();
  scratch = await mkdtemp(path.join(tmpdir(), 'mc-client-pack-'));
});
test.after(async () => {
  await t.close();
  await rm(scratch, { recursive: true, force: true });
});

test('the source imports only itself: nothing from server/ or any package', async () => {
  const files = (await readdir(path.join(clientDir, 'src'), { recursive: true })).filter((f) =>
    f.endsWith('.ts'),
  );
  assert.ok(files.length > 5);
  for (const file of files) {
    const text = await readFile(path.join(clientDir, 'src', file), 'utf8');
    for (const [, specifier] of text.matchAll(/\bfrom\s+'([^']+)'/g)) {
      assert.ok(specifier?.startsWith('./') || specifier?.startsWith('../'), `${file} imports ${specifier}`);
      const target = path.resolve(path.dirname(path.join(clientDir, 'src', file)), specifier ?? '');
      assert.ok(target.startsWith(path.join(clientDir, 'src')), `${file} reaches out to ${specifier}`);
    }
  }
  const manifest = JSON.parse(await readFile(path.join(clientDir, 'package.json'), 'utf8'));
  assert.is(manifest.dependencies, undefined, 'no runtime dependencies');
});

test('npm pack, install the tarball elsewhere, import it from Node and call a live server', async () => {
  const npmEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' };
  // prepack builds dist/ with tsc.
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', scratch], {
    cwd: clientDir,
    env: npmEnv,
  });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as {
    filename: string;
    files: { path: string }[];
  }[];
  assert.ok(packed);
  const paths = packed.files.map((f) => f.path);
  assert.ok(paths.includes('dist/index.js') && paths.includes('dist/index.d.ts'), paths.join(', '));
  assert.ok(paths.includes('dist/generated/api.d.ts'));
  assert.not.ok(
    paths.some((p) => p.startsWith('src/') || p.startsWith('scripts/')),
    'only the build is published',
  );

  const project = path.join(scratch, 'app');
  await run('mkdir', ['-p', project]);
  await writeFile(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'app', type: 'module', private: true }),
  );
  await run('npm', ['install', '--offline', '--no-audit', path.join(scratch, packed.filename)], {
    cwd: project,
    env: npmEnv,
  });
  await writeFile(
    path.join(project, 'main.js'),
    `import { createClient, MicrochatterError } from 'microchatter-client';
const client = createClient({ baseUrl: process.env.MC_URL, token: async () => process.env.MC_TOKEN });
const me = await client.me();
const sent = await client.send_message({ recipient: 'pack-bob', body: 'from the tarball' });
let code;
try { await client.send_message({ recipient: 'pack-bob', body: '' }); } catch (e) { code = e instanceof MicrochatterError && e.code; }
const events = await new Promise((resolve) => {
  const seen = [];
  const sub = client.events({ onEvent: (e) => { seen.push(e.type); if (e.type === 'ready') { sub.close(); resolve(seen); } } });
});
console.log(JSON.stringify({ me: me.user_id, body: sent.body, code, events }));
`,
  );
  await t.rpc('pack-bob', 'me');
  const result = await run(process.execPath, ['main.js'], {
    cwd: project,
    env: { ...process.env, MC_URL: t.url, MC_TOKEN: await t.tokenFor('pack-alice') },
    timeout: 20_000,
  });
  assert.equal(JSON.parse(result.stdout), {
    me: 'pack-alice',
    body: 'from the tarball',
    code: 'MCEMB',
    events: ['ready'],
  });

  // The declarations type a consumer's code: a wrong argument fails tsc.
  await writeFile(
    path.join(project, 'check.ts'),
    `import { createClient } from 'microchatter-client';
const client = createClient({ baseUrl: 'http://x', token: 't' });
export const ok = client.list_messages({ conversation_id: 1, before_seq: 3 });
// @ts-expect-error conversation_id is required
export const missing = client.list_messages({ before_seq: 3 });
// @ts-expect-error no such argument
export const unknown = client.mark_read({ conversation_id: 1, sequence: 2 });
`,
  );
  await writeFile(
    path.join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2022', 'DOM'],
        types: [],
      },
      files: ['check.ts'],
    }),
  );
  await run(path.resolve('node_modules/.bin/tsc'), ['-p', project]);
});

test.run();
