/**
 * `npm run bench [-- --quick] [--parts sql,http]`: every benchmark part (or those listed), one after
 * the other, each in its own process (`node --import tsx bench/<part>.ts [--quick] --out FILE`, the
 * result schema of bench/lib/result.ts). Then it merges their results into
 * bench/results/<date>[-quick].json, writes a Markdown summary beside it, draws the parts' series as
 * SVG (bench/lib/svg.ts) and prints a table of every figure.
 *
 * A full run also rewrites the "Latest run" section of docs/benchmarks.md and the plots in
 * docs/benchmarks/; a quick run (a smoke test: smaller data, shorter windows) leaves docs/ alone and
 * writes its plots to bench/results/. The exit code is 1 only when a part failed (crashed, timed out,
 * wrote no result), never for a missed target. A part whose script is not there is reported and
 * skipped.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './lib/processes.ts';
import {
  charts,
  consoleTable,
  markdownSummary,
  type Plot,
  type SuiteRun,
  verdictCounts,
  withSummary,
} from './lib/report.ts';
import { fileStamp, type PartResult } from './lib/result.ts';

const ALL_PARTS = ['sql', 'http', 'send', 'events', 'webhooks', 'scale'];
const quick = process.argv.includes('--quick');
/** `--parts sql,http` runs only those (and the summary says the others were left out). */
const only = process.argv.indexOf('--parts');
const PARTS = only >= 0 ? (process.argv[only + 1] ?? '').split(',').filter(Boolean) : ALL_PARTS;
/** A part that takes longer has hung; its own plan takes a fraction of this. */
const PART_TIMEOUT_MS = (quick ? 3 : 20) * 60_000;
const RESULTS = path.join(ROOT, 'bench', 'results');
const DOCS_PLOTS = path.join(ROOT, 'docs', 'benchmarks');
const DOC = path.join(ROOT, 'docs', 'benchmarks.md');

let child: ReturnType<typeof spawn> | undefined;
let interrupted: NodeJS.Signals | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // The part cleans up its own database and processes on this signal; wait for it, then stop.
    interrupted = signal;
    child?.kill(signal);
  });
}

/** Runs one part; resolves with its result, or with why it has none. */
async function runPart(part: string, out: string): Promise<PartResult | string> {
  const args = ['--import', 'tsx', `bench/${part}.ts`, ...(quick ? ['--quick'] : []), '--out', out];
  const started = performance.now();
  const code = await new Promise<number | string>((resolve) => {
    child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'inherit' });
    const timer = setTimeout(() => {
      console.error(`part ${part}: no end after ${PART_TIMEOUT_MS / 60_000} min, stopping it`);
      child?.kill('SIGTERM');
      setTimeout(() => child?.kill('SIGKILL'), 10_000).unref();
    }, PART_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve(error.message);
    });
    child.once('exit', (exitCode, signal) => {
      clearTimeout(timer);
      resolve(exitCode ?? String(signal));
    });
  });
  child = undefined;
  console.log(`part ${part}: ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (code !== 0) return `exited with ${code}`;
  try {
    const result = JSON.parse(await readFile(out, 'utf8')) as PartResult;
    if (!Array.isArray(result.figures)) return `${out} has no figures`;
    return result;
  } catch (error) {
    return `no readable result (${(error as Error).message})`;
  }
}

function gitCommit(): string | undefined {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain') ? ' + uncommitted changes' : ''}`;
  } catch {
    return undefined;
  }
}

async function main(): Promise<number> {
  const started = new Date();
  const stamp = `${fileStamp(started)}${quick ? '-quick' : ''}`;
  const command = `npm run bench${quick ? ' -- --quick' : ''}`;
  const loadAverage = os.loadavg()[0] ?? 0;
  console.log(
    `${command}: parts ${PARTS.join(', ')}; ${os.availableParallelism()} CPUs, load average ${loadAverage.toFixed(1)}`,
  );

  const temp = await mkdtemp(path.join(os.tmpdir(), 'microchatter-bench-suite-'));
  const parts: PartResult[] = [];
  const problems: SuiteRun['problems'] = ALL_PARTS.filter((part) => !PARTS.includes(part)).map((part) => ({
    part,
    problem: 'left out (--parts)',
    error: false,
  }));
  try {
    for (const part of PARTS) {
      if (interrupted) break;
      if (!existsSync(path.join(ROOT, 'bench', `${part}.ts`))) {
        console.log(`\npart ${part}: not available (no bench/${part}.ts), skipped`);
        problems.push({ part, problem: `not available (no bench/${part}.ts)`, error: false });
        continue;
      }
      console.log(`\n=== part ${part} ===`);
      const result = await runPart(part, path.join(temp, `${part}.json`));
      if (typeof result === 'string') {
        console.error(`part ${part} FAILED: ${result}`);
        problems.push({ part, problem: `failed: ${result}`, error: true });
      } else {
        parts.push(result);
      }
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  if (interrupted) {
    console.error(`${interrupted}: stopped, nothing written`);
    return interrupted === 'SIGINT' ? 130 : 143;
  }

  const [first] = parts;
  const run: SuiteRun = {
    date: started.toISOString(),
    command,
    quick,
    commit: gitCommit(),
    seconds: (Date.now() - started.getTime()) / 1000,
    machine: {
      cpus: os.availableParallelism(),
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      postgres: first?.machine.postgres ?? 'PostgreSQL (not reached)',
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
      loadAverage,
    },
    parts,
    problems,
  };

  await mkdir(RESULTS, { recursive: true });
  const json = path.join(RESULTS, `${stamp}.json`);
  await writeFile(json, `${JSON.stringify(run, null, 2)}\n`);

  // A full run replaces the documented plots; a quick one keeps its own beside its results.
  const drawn = charts(parts).map((chart) => ({
    ...chart,
    path: quick
      ? path.join(RESULTS, `${stamp}-${chart.file}.svg`)
      : path.join(DOCS_PLOTS, `${chart.file}.svg`),
  }));
  if (!quick) {
    await mkdir(DOCS_PLOTS, { recursive: true });
    for (const old of await readdir(DOCS_PLOTS)) {
      if (old.endsWith('.svg')) await rm(path.join(DOCS_PLOTS, old));
    }
  }
  for (const chart of drawn) await writeFile(chart.path, chart.svg);
  const plotsFrom = (dir: string): Plot[] =>
    drawn.map((chart) => ({ title: chart.title, href: path.relative(dir, chart.path) }));

  const markdown = path.join(RESULTS, `${stamp}.md`);
  await writeFile(
    markdown,
    markdownSummary(run, `# Benchmark run ${stamp}`, path.basename(json), plotsFrom(RESULTS)),
  );
  if (!quick) {
    const doc = await readFile(DOC, 'utf8');
    const summary = markdownSummary(
      run,
      '## Latest run',
      path.relative(path.dirname(DOC), json),
      plotsFrom(path.dirname(DOC)),
    );
    await writeFile(DOC, withSummary(doc, summary));
  }

  const { met, missed } = verdictCounts(run);
  console.log(`\n${consoleTable(run)}\n`);
  for (const { part, problem } of problems) console.log(`part ${part}: ${problem}`);
  console.log(
    `${met} of ${met + missed} targets met; ${path.relative(process.cwd(), json)}, ` +
      `${path.relative(process.cwd(), markdown)}, ${drawn.length} plot(s)` +
      `${quick ? '' : ', docs/benchmarks.md'} (${Math.round(run.seconds)} s)`,
  );
  return problems.some((problem) => problem.error) ? 1 : 0;
}

process.exitCode = await main();
