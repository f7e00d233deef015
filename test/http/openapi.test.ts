/**
 * /openapi.json is precise enough to generate a client from: openapi-typescript turns the document
 * the server serves into types, and tsc accepts a correct call and refuses one that leaves out a
 * required argument, reads a nullable field as non-null, or compares `kind` with a value it cannot take.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import openapiTS from 'openapi-typescript';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type TestApp, testApp } from '../helpers/http.ts';

const test = suite('http: the OpenAPI document types well');
let t: TestApp;
let doc: Record<string, unknown>;
let dir: string;

test.before(async () => {
  t = await testApp();
  const response = await t.app.request('/openapi.json');
  assert.is(response.status, 200);
  doc = (await response.json()) as Record<string, unknown>;
  dir = await mkdtemp(path.join(tmpdir(), 'mc-openapi-'));
  // openapi-typescript 6 takes the document as an object and answers the .d.ts text.
  const types = await openapiTS(doc as unknown as Parameters<typeof openapiTS>[0]);
  await writeFile(path.join(dir, 'api.d.ts'), types);
  await writeFile(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        types: [],
        skipLibCheck: false,
      },
    }),
  );
});
test.after(async () => {
  await t.close();
  await rm(dir, { recursive: true, force: true });
});

type Json = Record<string, unknown>;
const at = (value: unknown, ...keys: string[]): unknown =>
  keys.reduce<unknown>((v, k) => (v as Json | undefined)?.[k], value);

/** Type-checks the files beside the generated api.d.ts after writing `name`; status and output. */
async function compile(name: string, source: string): Promise<{ status: number | null; output: string }> {
  await writeFile(path.join(dir, name), source);
  const tsc = path.resolve('node_modules/.bin/tsc');
  const result = spawnSync(tsc, ['-p', path.join(dir, 'tsconfig.json'), '--pretty', 'false'], {
    encoding: 'utf8',
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const header = `import type { components, operations } from './api.d.ts';
type Args<Op extends keyof operations> = operations[Op] extends {
  requestBody?: { content: { 'application/json': infer A } };
}
  ? A
  : never;
type Message = components['schemas']['chat_message'];
type Conversation = components['schemas']['chat_conversation'];
type Frame = operations['events']['responses'][200]['content']['text/event-stream'];
export {};
`;

test('a correct use type-checks; a missing required argument does not', async () => {
  const good = await compile(
    'good.ts',
    `${header}
const edit: Args<'edit_message'> = { conversation_id: 7, seq: 3, body: 'fixed' };
const read: Args<'mark_read'> = { conversation_id: 7 };
const send: Args<'send_message'> = { recipient: 'bob', body: 'hi', client_id: null };
declare const message: Message;
const seq: number = message.seq;
const body: string = message.body;
const emoji: string | undefined = message.reactions[0]?.emoji;
const size: number | undefined = message.attachments[0]?.size;
// @ts-expect-error edited_at is null until an edit
const edited: string = message.edited_at;
declare const conversation: Conversation;
const kind: 'direct' | 'group' = conversation.kind;
// @ts-expect-error kind is a closed set
const isChannel = conversation.kind === 'channel';
const last: string | undefined = conversation.last_message?.body;
declare const frame: Frame;
if (frame.event === 'message.created') frame.data.message.seq.toFixed();
if (frame.event === 'typing') frame.data.typing.valueOf();
declare const refusal: components['schemas']['Error'];
const code: string = refusal.error.code;
console.log(edit, read, send, seq, body, emoji, size, edited, kind, isChannel, last, code);
`,
  );
  assert.is(good.status, 0, good.output);
  await rm(path.join(dir, 'good.ts'));

  const bad = await compile(
    'bad.ts',
    `${header}
const edit: Args<'edit_message'> = { conversation_id: 7, seq: 3 };
console.log(edit);
`,
  );
  assert.is.not(bad.status, 0, 'leaving out edit_message body must not compile');
  assert.match(bad.output, /bad\.ts\(\d+,\d+\): error TS\d+: Property 'body' is missing/);
  await rm(path.join(dir, 'bad.ts'));

  const noConversation = await compile(
    'bad2.ts',
    `${header}
const read: Args<'mark_read'> = { seq: 3 };
console.log(read);
`,
  );
  assert.is.not(noConversation.status, 0, 'mark_read without conversation_id must not compile');
  assert.match(
    noConversation.output,
    /bad2\.ts\(\d+,\d+\): error TS\d+: Property 'conversation_id' is missing/,
  );
  await rm(path.join(dir, 'bad2.ts'));
});

test('the document: required arguments and bodies, non-null columns, enums from SQL, the error body', () => {
  const edit = at(doc, 'paths', '/rpc/edit_message', 'post', 'requestBody') as Json;
  assert.is(edit.required, true);
  assert.equal(at(edit, 'content', 'application/json', 'schema', 'required'), [
    'conversation_id',
    'seq',
    'body',
  ]);
  // Every argument of send_message has a default: recipient or conversation_id, and a body that may be
  // empty when attachments are sent.
  const send = at(doc, 'paths', '/rpc/send_message', 'post', 'requestBody') as Json;
  assert.is(send.required, false);
  assert.equal(at(send, 'content', 'application/json', 'schema', 'required'), []);
  assert.equal(at(send, 'content', 'application/json', 'schema', 'properties', 'body', 'type'), [
    'string',
    'null',
  ]);

  const message = at(doc, 'components', 'schemas', 'chat_message') as Json;
  assert.ok((message.required as string[]).includes('edited_at'), 'every column is present');
  assert.equal(at(message, 'properties', 'seq', 'type'), 'integer');
  assert.equal(at(message, 'properties', 'edited_at', 'type'), ['string', 'null']);
  assert.equal(at(doc, 'components', 'schemas', 'chat_conversation', 'properties', 'kind', 'enum'), [
    'direct',
    'group',
  ]);
  assert.equal(at(doc, 'components', 'schemas', 'ConversationInfo', 'properties', 'kind', 'enum'), [
    'direct',
    'group',
  ]);
  assert.equal(at(doc, 'components', 'schemas', 'Error', 'required'), ['error']);
  assert.ok(
    (
      at(
        doc,
        'components',
        'schemas',
        'Error',
        'properties',
        'error',
        'properties',
        'code',
        'enum',
      ) as string[]
    ).includes('MCNMB'),
  );
});

test('the routes that are not SQL functions, the servers entry and the licence', () => {
  const events = at(
    doc,
    'paths',
    '/events',
    'get',
    'responses',
    '200',
    'content',
    'text/event-stream',
    'schema',
    'oneOf',
  ) as Json[];
  const types = events.map((e) => {
    const name = String(e.$ref).split('/').pop() ?? '';
    return at(doc, 'components', 'schemas', name, 'properties', 'event', 'const');
  });
  for (const type of [
    'message.created',
    'message.updated',
    'message.deleted',
    'conversation.read',
    'typing',
    'presence.changed',
    'ready',
    'reset',
    'expired',
    'shutdown',
  ])
    assert.ok(types.includes(type), type);
  assert.ok(at(doc, 'paths', '/events/ticket', 'post', 'responses', '200'));
  assert.ok(at(doc, 'paths', '/auth/token', 'post', 'responses', '200'));
  const upload = at(doc, 'paths', '/attachments', 'post') as Json;
  assert.ok(at(upload, 'requestBody', 'content', '*/*'));
  assert.equal(at(upload, 'parameters', '0', 'name'), 'name');
  assert.ok(at(doc, 'paths', '/attachments/{attachment_id}', 'get', 'responses', '206'));
  assert.equal(at(doc, 'servers', '0', 'url'), '/');
  assert.equal(at(doc, 'info', 'license', 'identifier'), 'MIT');
});

test.run();
