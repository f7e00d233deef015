/**
 * The suites' process (started by test/run.ts): uvu's own runner, with each suite's result tallied
 * as it returns and written as JSON to MC_TEST_COUNTS_FILE, so the counts do not depend on the text
 * uvu prints. Usage: node --import tsx test/uvu-child.ts <dir> <pattern> <ignore>
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parse } from 'uvu/parse';

type SuiteResult = [errors: string | true, ran: number, skipped: number, total: number];
type Queue = [string | null, ...(() => Promise<SuiteResult>)[]][];
const uvuGlobals = globalThis as typeof globalThis & {
  UVU_DEFER?: number;
  UVU_INDEX?: number;
  UVU_QUEUE: Queue;
};

const [dir = 'test', pattern = '\\.test\\.ts$', ignore = '(^|/)helpers/'] = process.argv.slice(2);
const countsFile = process.env.MC_TEST_COUNTS_FILE;

// As uvu's CLI does: queue every suite file's tests, then run them in one go.
uvuGlobals.UVU_DEFER = 1;
const uvu = await import('uvu');
const { suites } = await parse(dir, new RegExp(pattern), { ignore: new RegExp(ignore) });
for (const [index, suite] of suites.entries()) {
  uvuGlobals.UVU_INDEX = index;
  uvuGlobals.UVU_QUEUE.push([suite.name]);
  await import(pathToFileURL(suite.file).href);
}

const counts = { passed: 0, failed: 0, skipped: 0 };
for (const group of uvuGlobals.UVU_QUEUE) {
  for (let i = 1; i < group.length; i++) {
    const run = group[i] as () => Promise<SuiteResult>;
    group[i] = async () => {
      const result = await run();
      const [, ran, skipped, total] = result;
      counts.passed += ran;
      counts.failed += total - ran; // a test that threw, or every test of a suite whose hook threw
      counts.skipped += skipped;
      if (countsFile) writeFileSync(countsFile, JSON.stringify(counts));
      return result;
    };
  }
}
await uvu.exec(false);
