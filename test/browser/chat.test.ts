/**
 * The /demo page in a real Chromium (the system's, driven by playwright-core), against a real server
 * process: two people chatting live, read receipts, typing, edits and reactions crossing over, a
 * server restart with messages sent through SQL meanwhile, and an expired token renewed once.
 * On a failure, screenshots of every open page go to a temporary folder named in the output.
 */
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { JWT_SECRET } from '../helpers/http.ts';
import { freePort } from '../helpers/ports.ts';
import { type ServerProcess, startServerProcess } from '../helpers/server-process.ts';

/**
 * What the functions evaluated in the pages touch. They run in Chromium; the suite is compiled without
 * the DOM library (the server must not see browser globals), so they are declared here, in this module.
 */
interface PageNode {
  textContent: string | null;
  dataset: Record<string, string | undefined>;
  querySelector(selector: string): PageNode | null;
}
declare const document: {
  body: PageNode;
  getElementById(id: string): PageNode | null;
  querySelector(selector: string): PageNode | null;
};
declare const window: { notReloaded?: boolean };

const CHROMIUM = '/usr/bin/chromium';
const test = suite('browser: the /demo chat page in Chromium');

let db: TestDatabase;
let server: ServerProcess;
let port: number;
let browser: Browser;
let alice: Page;
let bob: Page;
const pages = new Map<string, Page>();
let conversationId: number;

const serverEnv = () => ({
  PORT: String(port),
  MICROCHATTER_DEMO: 'true',
  // Fixed, so the tokens the pages hold stay valid across the restart, as in a real deployment.
  MICROCHATTER_JWT_SECRET: JWT_SECRET,
  MICROCHATTER_JWT_CLOCK_TOLERANCE: '0',
});
const base = () => `http://127.0.0.1:${port}`;

async function openAs(user: string, viewport = { width: 1000, height: 700 }): Promise<Page> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  pages.set(user, page);
  page.on('pageerror', (error) => console.error(`${user}'s page: ${error.message}`));
  await page.goto(`${base()}/demo?user=${encodeURIComponent(user)}`);
  await live(page);
  return page;
}

const live = (page: Page, timeout = 10_000) =>
  page.waitForFunction(() => document.body.dataset.connection === 'live', null, { timeout });

/** Runs a step; on failure, screenshots of every page are saved and their folder named. */
async function step(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    const dir = await mkdtemp(path.join(tmpdir(), 'mc-browser-'));
    for (const [user, page] of pages) {
      await page.screenshot({ path: path.join(dir, `${name}-${user}.png`), fullPage: true }).catch(() => {});
    }
    console.error(`browser test "${name}" failed: screenshots in ${dir}`);
    throw error;
  }
}

/** The texts of the open conversation's messages. */
const texts = (page: Page) => page.locator('#messages .message .text').allTextContents();

test.before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  db = await freshDatabase({ max: 2 });
  port = await freePort();
  server = await startServerProcess(db, serverEnv());
  // Playwright gives each launch a fresh temporary profile (user-data-dir).
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  [alice, bob] = await Promise.all([openAs('alice'), openAs('bob', { width: 390, height: 780 })]);
});

test.after(async () => {
  await browser?.close();
  await server?.stop();
  await db?.drop();
});

test('alice sends; bob sees the message and the unread badge within a second', () =>
  step('send', async () => {
    await alice.fill('#new-chat-user', 'bob');
    await alice.click('#new-chat button');
    await alice.waitForSelector('#messages .message');
    await bob.waitForSelector('#inbox [data-conversation]');
    conversationId = Number(await bob.getAttribute('#inbox [data-conversation]', 'data-conversation'));

    await alice.fill('#body', 'Hello Bob');
    const sentAt = Date.now();
    await alice.press('#body', 'Enter');
    await bob.waitForFunction(
      () => {
        const row = document.querySelector('#inbox [data-conversation]');
        return row?.querySelector('.badge')?.textContent === '2' && row.textContent?.includes('Hello Bob');
      },
      null,
      { timeout: 1000 },
    );
    assert.ok(Date.now() - sentAt < 1000);
  }));

test('bob opens the conversation; alice sees "Seen"', () =>
  step('seen', async () => {
    await bob.click('#inbox [data-conversation]');
    await bob.waitForSelector('#messages .message');
    assert.equal(await texts(bob), ['👋 Hi bob!', 'Hello Bob']);
    await bob.waitForFunction(() => !document.querySelector('#inbox .badge'));
    await alice.waitForSelector('#messages [data-seen]', { timeout: 3000 });
    assert.match((await alice.textContent('#messages [data-seen]')) ?? '', /^Seen/);
  }));

test('typing shows on the other side and clears', () =>
  step('typing', async () => {
    await bob.locator('#body').pressSequentially('I am wri', { delay: 20 });
    await alice.waitForFunction(
      () => document.getElementById('typing')?.textContent === 'bob is typing…',
      null,
      {
        timeout: 3000,
      },
    );
    // Clearing the box stops typing (the page repeats the stop after set_typing's 2 s throttle).
    await bob.fill('#body', '');
    await alice.waitForFunction(() => document.getElementById('typing')?.textContent === '', null, {
      timeout: 4000,
    });
  }));

test('an edit and a reaction appear on the other side', () =>
  step('edit-react', async () => {
    const hello = alice.locator('#messages .message', { hasText: 'Hello Bob' });
    await hello.getByRole('button', { name: 'Edit' }).click();
    await alice.fill('#body', 'Hello Bob, edited');
    await alice.press('#body', 'Enter');
    const edited = bob.locator('#messages .message', { hasText: 'Hello Bob, edited' });
    await edited.locator('.edited').waitFor({ timeout: 3000 });

    await edited.getByRole('button', { name: 'React 👍' }).click();
    await alice
      .locator('#messages .message', { hasText: 'Hello Bob, edited' })
      .locator('.reactions button', { hasText: '👍 1' })
      .waitFor({ timeout: 3000 });
  }));

test('messages sent through SQL while the server is down appear after it restarts, once each, without a reload', () =>
  step('restart', async () => {
    await bob.evaluate(() => {
      window.notReloaded = true;
    });
    await server.stop();
    await bob.waitForFunction(
      () => document.getElementById('connection')?.textContent === 'Reconnecting…',
      null,
      {
        timeout: 5000,
      },
    );
    await db.sql`select chat.send_message('alice', conversation_id => ${conversationId}, body => 'While you were away 1')`;
    await db.sql`select chat.send_message('alice', conversation_id => ${conversationId}, body => 'While you were away 2')`;
    server = await startServerProcess(db, serverEnv());
    await live(bob, 15_000);
    await bob.waitForFunction(
      () => document.querySelector('#messages')?.textContent?.includes('While you were away 2'),
      null,
      { timeout: 5000 },
    );
    const shown = await texts(bob);
    assert.equal(
      shown.filter((t) => t.startsWith('While you were away')),
      ['While you were away 1', 'While you were away 2'],
    );
    assert.is(new Set(shown).size, shown.length, `no duplicates: ${shown.join(' | ')}`);
    assert.ok(await bob.evaluate(() => window.notReloaded), 'the page was not reloaded');
    assert.is(await bob.textContent('#connection'), '');
  }));

test('an expired token makes the page ask the token provider once, and it carries on', () =>
  step('expired', async () => {
    const context = await browser.newContext();
    const carol = await context.newPage();
    pages.set('carol', carol);
    let tokenRequests = 0;
    // The first sign-in token lives 2 s; the renewed one the default hour.
    await carol.route('**/demo/token', async (route) => {
      tokenRequests++;
      const body = JSON.parse(route.request().postData() ?? '{}') as Record<string, unknown>;
      await route.continue({
        postData: JSON.stringify(tokenRequests === 1 ? { ...body, ttl_seconds: 2 } : body),
      });
    });
    await carol.goto(`${base()}/demo?user=carol`);
    await live(carol);
    assert.is(tokenRequests, 1);
    await carol.waitForTimeout(2500); // the token expires; the stream is told so and closes
    await live(carol);
    await db.sql`select chat.send_message('alice', recipient => 'carol', body => 'Still there, Carol?')`;
    await carol.waitForFunction(
      () => document.getElementById('inbox')?.textContent?.includes('Still there, Carol?'),
      null,
      {
        timeout: 5000,
      },
    );
    assert.is(tokenRequests, 2, 'the provider was asked once more');
  }));

test.run();
