/**
 * What `npm run bench` (bench/index.ts) makes of the parts' results: one row per figure with its
 * baseline, ratio, target and verdict, as a console table and as the Markdown summary that
 * docs/benchmarks.md shows between its markers.
 */
import { type Figure, holds, type Machine, type PartResult, type Point } from './result.ts';
import { histogram, lineChart, shortNumber } from './svg.ts';

export interface SuiteRun {
  /** ISO time the run started. */
  date: string;
  command: string;
  quick: boolean;
  /** Short commit hash, with "+ uncommitted changes" when the tree was dirty; absent outside git. */
  commit?: string;
  seconds: number;
  machine: Machine & { cpuModel: string; loadAverage: number };
  parts: PartResult[];
  /** Parts that did not run (`error: false`: not there) or failed (`error: true`). */
  problems: { part: string; problem: string; error: boolean }[];
}

export interface Plot {
  title: string;
  /** Link to the SVG, relative to the Markdown file that shows it. */
  href: string;
}

export const SUMMARY_START = '<!-- bench:summary:start -->';
export const SUMMARY_END = '<!-- bench:summary:end -->';

/** The part's verdict, or the target checked here when the part gave none. */
export const isMet = (figure: Figure): boolean | undefined =>
  figure.met ?? (figure.target ? holds(figure.target, figure.value) : undefined);

function number(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 100) return String(Math.round(x));
  return x.toFixed(Math.abs(x) >= 10 ? 1 : 2);
}

const withUnit = (x: number, unit: string) => (unit === '×' ? `${number(x)}×` : `${number(x)} ${unit}`);

export interface Row {
  part: string;
  figure: string;
  /** With its ratio to the baseline when it is not a ratio itself. */
  value: string;
  baseline: string;
  target: string;
  verdict: string;
  note: string;
}

export function rows(run: SuiteRun): Row[] {
  return run.parts.flatMap((part) =>
    part.figures.map((figure) => {
      const { baseline, target, unit } = figure;
      const met = isMet(figure);
      const ratio = baseline && unit !== '×' ? ` (${number(figure.value / baseline.value)}× baseline)` : '';
      return {
        part: part.part,
        figure: figure.name,
        value: `${withUnit(figure.value, unit)}${ratio}`,
        baseline: baseline ? `${baseline.name}: ${number(baseline.value)}` : '—',
        target: target ? `${target.op === '<=' ? '≤' : '≥'} ${withUnit(target.value, unit)}` : '—',
        verdict: met === undefined ? '' : met ? '✓' : '✗',
        note: figure.note ?? '',
      };
    }),
  );
}

const HEADERS: Record<keyof Row, string> = {
  part: 'Part',
  figure: 'Figure',
  value: 'Value',
  baseline: 'Baseline (same run)',
  target: 'Target',
  verdict: 'Met',
  note: 'Note',
};

/** The final table of `npm run bench`: every figure of every part (notes are in the Markdown). */
export function consoleTable(run: SuiteRun): string {
  const columns: (keyof Row)[] = ['part', 'figure', 'value', 'baseline', 'target', 'verdict'];
  const table = [HEADERS, ...rows(run)];
  const widths = columns.map((column) => Math.max(...table.map((row) => row[column].length)));
  return table
    .map((row) =>
      columns
        .map((column, i) => row[column].padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

export function verdictCounts(run: SuiteRun): { met: number; missed: number } {
  const verdicts = run.parts.flatMap((part) => part.figures.map(isMet));
  return {
    met: verdicts.filter((met) => met === true).length,
    missed: verdicts.filter((met) => met === false).length,
  };
}

/**
 * The summary of a run: when and where, every figure, the plots. `resultsHref` links the merged JSON
 * from wherever the Markdown lives.
 */
export function markdownSummary(run: SuiteRun, heading: string, resultsHref: string, plots: Plot[]): string {
  const m = run.machine;
  const date = `${run.date.slice(0, 16).replace('T', ' ')} UTC`;
  const { met, missed } = verdictCounts(run);
  const lines = [
    heading,
    '',
    `\`${run.command}\`${run.commit ? ` at commit ${run.commit}` : ''}, ${date}, ${Math.round(run.seconds)} s in all; ` +
      `${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Node ${m.node}, ${m.postgres}; ` +
      `load average ${m.loadAverage.toFixed(1)} when it started (other work shares the machine). ` +
      `Results: [${resultsHref.split('/').pop()}](${resultsHref}).`,
    '',
    `**${met} of ${met + missed} targets met.** Parts: ${run.parts.map((part) => part.part).join(', ') || 'none'}.` +
      run.problems.map(({ part, problem }) => ` Part ${part}: ${problem}.`).join(''),
    '',
    'Each figure beside its baseline, measured in the same run: a value in × is the ratio to it, any other',
    'value shows the ratio in brackets. The targets are about the value.',
    '',
  ];
  const columns = Object.keys(HEADERS) as (keyof Row)[];
  lines.push(`| ${columns.map((column) => HEADERS[column]).join(' | ')} |`);
  lines.push(`| ${columns.map(() => '---').join(' | ')} |`);
  for (const row of rows(run)) lines.push(`| ${columns.map((column) => cell(row[column])).join(' | ')} |`);
  lines.push('');
  for (const plot of plots) lines.push(`![${plot.title}](${plot.href})`, '');
  return lines.join('\n');
}

/** `doc` with the summary between the markers, which go right under the title the first time. */
export function withSummary(doc: string, summary: string): string {
  const block = `${SUMMARY_START}\n${summary.trimEnd()}\n${SUMMARY_END}`;
  const start = doc.indexOf(SUMMARY_START);
  const end = doc.indexOf(SUMMARY_END);
  if (start >= 0 && end > start) return doc.slice(0, start) + block + doc.slice(end + SUMMARY_END.length);
  const title = /^# .*\n+/.exec(doc);
  const at = title ? title.index + title[0].length : 0;
  return `${doc.slice(0, at)}${block}\n\n${doc.slice(at)}`;
}

/** Parts whose {x, y} series all go into one chart, and how it is labelled. */
const LINE_CHARTS: Record<string, { file: string; title: string; xLabel: string; yLabel: string }> = {
  http: {
    file: 'send-throughput',
    title: 'Send throughput: HTTP vs the same SQL transaction (median sends/s)',
    xLabel: 'connections',
    yLabel: 'sends/s',
  },
  sql: {
    file: 'conversation-size',
    title: 'Cost vs conversation size (SQL, p50 per call)',
    xLabel: 'messages in the conversation',
    yLabel: 'ms',
  },
};

const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

const isPoints = (values: number[] | Point[]): values is Point[] =>
  values.length > 0 && typeof values[0] === 'object';

/** Series by the text before ': ' in their names ("latency @100/s: Microchatter ms"), in order. */
function byPrefix<T>(series: [string, T][]): Map<string, { name: string; values: T }[]> {
  const groups = new Map<string, { name: string; values: T }[]>();
  for (const [name, values] of series) {
    const at = name.indexOf(': ');
    const [group, rest] = at < 0 ? [name, name] : [name.slice(0, at), name.slice(at + 2)];
    groups.set(group, [...(groups.get(group) ?? []), { name: rest, values }]);
  }
  return groups;
}

/**
 * The charts of a run: each part's samples as histograms, one per name prefix; its points as lines,
 * all in one chart for the parts in LINE_CHARTS, else one chart per name prefix.
 */
export function charts(parts: PartResult[]): { file: string; title: string; svg: string }[] {
  const drawn: { file: string; title: string; svg: string }[] = [];
  for (const part of parts) {
    const series = Object.entries(part.series ?? {}).filter(([, values]) => values.length);
    const points = series.flatMap(([name, values]) =>
      isPoints(values) ? [[name, values] as [string, Point[]]] : [],
    );
    const samples = series.flatMap(([name, values]) =>
      isPoints(values) ? [] : [[name, values] as [string, number[]]],
    );
    const spec = LINE_CHARTS[part.part];
    const xTick = (x: number) => (part.part === 'sql' && x === 0 ? 'empty' : shortNumber(x));
    if (spec && points.length) {
      const lines = points.map(([name, values]) => ({ name, points: values }));
      drawn.push({ file: spec.file, title: spec.title, svg: lineChart({ ...spec, lines, xTick }) });
    } else {
      for (const [group, lines] of byPrefix(points)) {
        const title = `${part.part}: ${group}`;
        const chart = { title, xLabel: '', yLabel: '', xTick };
        const svg = lineChart({
          ...chart,
          lines: lines.map(({ name, values }) => ({ name, points: values })),
        });
        drawn.push({ file: slug(title), title, svg });
      }
    }
    for (const [group, sets] of byPrefix(samples)) {
      const title = `${part.part}: ${group}`;
      const svg = histogram({
        title,
        xLabel: 'ms',
        sets: sets.map(({ name, values }) => ({ name, samples: values })),
      });
      drawn.push({ file: slug(title), title, svg });
    }
  }
  return drawn;
}
