/**
 * Line charts and histograms as standalone SVG text, for the benchmark report: a few dozen points per
 * chart, so no plotting library, just axes with round ticks, polylines and bars.
 */
import type { Point } from './result.ts';

const WIDTH = 640;
const HEIGHT = 360;
const MARGIN = { left: 64, right: 20, top: 44, bottom: 48 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
/** Rough width of a character of the 12px sans-serif labels, to lay out the legend. */
const CHAR_WIDTH = 6.5;

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  lines: { name: string; points: Point[] }[];
  /** Label of an x value; default: 1k, 1M… */
  xTick?: (x: number) => string;
}

export interface Histogram {
  title: string;
  xLabel: string;
  /** Sample sets drawn over each other on the same bins, e.g. the system and its baseline. */
  sets: { name: string; samples: number[] }[];
  bins?: number;
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** 1, 2.5, 10k, 1.5M: short labels for ticks. */
export function shortNumber(x: number): string {
  const round = (v: number) => String(Number(v.toPrecision(3)));
  if (Math.abs(x) >= 1e6) return `${round(x / 1e6)}M`;
  if (Math.abs(x) >= 1e4) return `${round(x / 1e3)}k`;
  return round(x);
}

/** A round step (1, 2 or 5 × 10^n) that cuts [0, max] into about `count` intervals. */
function niceStep(max: number, count: number): number {
  const raw = max / count || 1;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw) ?? 10;
  return step * magnitude;
}

function text(x: number, y: number, content: string, attributes = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attributes}>${escapeXml(content)}</text>`;
}

/**
 * The frame every chart shares: title, plot area from `top` down, y axis from 0 to a round value
 * above `yMax` with grid lines, axis labels. `render` wraps the chart's own elements.
 */
function frame(title: string, xLabel: string, yLabel: string, yMax: number, top: number) {
  const step = niceStep(yMax, 5);
  const plotBottom = HEIGHT - MARGIN.bottom;
  const yTop = Math.ceil(yMax / step) * step || step;
  const y = (v: number) => plotBottom - (v / yTop) * (plotBottom - top);
  const grid: string[] = [];
  for (let k = 0; k * step <= yTop; k++) {
    const v = k * step;
    grid.push(
      `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`,
      text(MARGIN.left - 6, y(v) + 4, shortNumber(v), 'text-anchor="end"'),
    );
  }
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12" fill="#333">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    text(WIDTH / 2, 20, title, 'text-anchor="middle" font-size="14" font-weight="bold"'),
    ...grid,
    `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${plotBottom}" y2="${plotBottom}" stroke="#333"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${top}" y2="${plotBottom}" stroke="#333"/>`,
    text((MARGIN.left + WIDTH - MARGIN.right) / 2, HEIGHT - 10, xLabel, 'text-anchor="middle"'),
    text(
      16,
      (top + plotBottom) / 2,
      yLabel,
      `text-anchor="middle" transform="rotate(-90 16 ${(top + plotBottom) / 2})"`,
    ),
  ];
  return { y, render: (body: string[]) => [...svg, ...body, '</svg>', ''].join('\n') };
}

/**
 * Legend rows under the title, an entry per series in its colour (`swatch`: a line or a box);
 * `bottom` is where the plot area can start.
 */
function legend(names: string[], swatch: 'line' | 'box'): { elements: string[]; bottom: number } {
  const elements: string[] = [];
  let x = MARGIN.left;
  let y = 38;
  for (const [i, name] of names.entries()) {
    const width = 28 + name.length * CHAR_WIDTH + 16;
    if (x + width > WIDTH - MARGIN.right && x > MARGIN.left) {
      x = MARGIN.left;
      y += 16;
    }
    const color = COLORS[i % COLORS.length];
    elements.push(
      swatch === 'line'
        ? `<line x1="${x}" x2="${x + 20}" y1="${y - 4}" y2="${y - 4}" stroke="${color}" stroke-width="2"/>`
        : `<rect x="${x + 4}" y="${y - 10}" width="12" height="10" fill="${color}" fill-opacity="0.6"/>`,
      text(x + 26, y, name),
    );
    x += width;
  }
  return { elements, bottom: y + 14 };
}

/**
 * Lines over a few categories: each distinct x is one evenly spaced tick (1, 10, 50 connections;
 * empty, 10k, 1M messages), so that values far apart stay readable without a log scale (which has no
 * 0). With more distinct x values than fit as labels, a linear x axis and no point markers.
 */
export function lineChart(chart: LineChart): string {
  const xTick = chart.xTick ?? shortNumber;
  const xs = [...new Set(chart.lines.flatMap((line) => line.points.map((p) => p.x)))].sort((a, b) => a - b);
  const ys = chart.lines.flatMap((line) => line.points.map((p) => p.y)).filter(Number.isFinite);

  const { elements, bottom } = legend(
    chart.lines.map((line) => line.name),
    'line',
  );
  const { y, render } = frame(chart.title, chart.xLabel, chart.yLabel, Math.max(0, ...ys), bottom);
  const span = WIDTH - MARGIN.left - MARGIN.right;
  const categories = xs.length <= 12;
  const [first = 0, last = 1] = [xs[0], xs.at(-1)];
  const x = categories
    ? (v: number) => MARGIN.left + ((xs.indexOf(v) + 0.5) / xs.length) * span
    : (v: number) => MARGIN.left + ((v - first) / (last - first || 1)) * span;
  const step = niceStep(last - first, 8);
  const ticks = categories
    ? xs
    : Array.from(
        { length: Math.floor(last / step) - Math.ceil(first / step) + 1 },
        (_, k) => (Math.ceil(first / step) + k) * step,
      );
  const body = [...elements];
  for (const v of ticks) body.push(text(x(v), HEIGHT - MARGIN.bottom + 16, xTick(v), 'text-anchor="middle"'));
  for (const [i, line] of chart.lines.entries()) {
    const color = COLORS[i % COLORS.length];
    const points = line.points.filter((p) => Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    const coordinates = points.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`);
    body.push(`<polyline points="${coordinates.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of categories ? points : []) {
      body.push(
        `<circle cx="${x(p.x).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="3.5" fill="${color}"><title>${escapeXml(`${line.name}: ${shortNumber(p.y)}`)}</title></circle>`,
      );
    }
  }
  return render(body);
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

/** Where a value sits along a histogram's x axis (0 to 1), the value at a position, and the ticks. */
interface Scale {
  at(v: number): number;
  from(t: number): number;
  ticks: number[];
  log: boolean;
}

/** The round values 1, 2, 5 × 10^k, from the largest ≤ `lo` to the smallest ≥ `hi`. */
function roundValues(lo: number, hi: number): number[] {
  const values: number[] = [];
  for (let k = Math.floor(Math.log10(lo)) - 1; k <= Math.ceil(Math.log10(hi)); k++) {
    for (const m of [1, 2, 5]) values.push(Number((m * 10 ** k).toPrecision(1)));
  }
  const first = values.filter((v) => v <= lo).length - 1;
  const last = values.findIndex((v) => v >= hi);
  return values.slice(Math.max(0, first), last + 1);
}

/**
 * Latencies spread over decades (a raw server at 3 ms beside a loaded one at 800 ms) get a log axis
 * from a round value below the fastest sample; a narrower spread gets a linear one from 0.
 */
function histogramScale(min: number, hi: number): Scale {
  if (min > 0 && hi / min >= 20) {
    const ticks = roundValues(min, hi);
    const [a, b] = [Math.log10(ticks[0] ?? min), Math.log10(ticks.at(-1) ?? hi)];
    return {
      at: (v) => (Math.log10(v) - a) / (b - a),
      from: (t) => 10 ** (a + t * (b - a)),
      ticks,
      log: true,
    };
  }
  const step = niceStep(hi, 8);
  const end = Math.ceil(hi / step) * step || step;
  const ticks = Array.from({ length: Math.round(end / step) + 1 }, (_, k) => k * step);
  return { at: (v) => v / end, from: (t) => t * end, ticks, log: false };
}

/**
 * Counts of samples in equal bins up to a round value just above the 99.5th percentile of all sets
 * (the few slower samples are counted in the legend, not drawn, so a tail does not squash the rest);
 * translucent bars, one colour per set, and dashed lines at each set's p50 and p99.
 */
export function histogram(chart: Histogram): string {
  const sets = chart.sets.map((set) => ({
    name: set.name,
    sorted: set.samples.filter(Number.isFinite).sort((a, b) => a - b),
  }));
  const all = sets.flatMap((set) => set.sorted).sort((a, b) => a - b);
  const scale = histogramScale(all[0] ?? 0, quantile(all, 0.995) || 1);
  const bins = chart.bins ?? 40;
  const end = scale.ticks.at(-1) ?? 1;
  const counted = sets.map(({ name, sorted }) => {
    const counts = new Array<number>(bins).fill(0);
    for (const sample of sorted) {
      const bin = Math.floor(scale.at(sample) * bins);
      if (bin >= 0 && bin < bins) counts[bin] = (counts[bin] ?? 0) + 1;
      else if (bin === bins && sample === end) counts[bins - 1] = (counts[bins - 1] ?? 0) + 1;
    }
    const beyond = sorted.length - counts.reduce((sum, n) => sum + n, 0);
    const p50 = quantile(sorted, 0.5);
    const p99 = quantile(sorted, 0.99);
    const label =
      `${name}: n ${sorted.length}, p50 ${shortNumber(p50)}, p99 ${shortNumber(p99)}` +
      (beyond ? `, ${beyond} > ${shortNumber(end)} not drawn` : '');
    return { counts, p50, p99, label };
  });

  const { elements, bottom: top } = legend(
    counted.map((set) => set.label),
    'box',
  );
  const yMax = Math.max(1, ...counted.flatMap((set) => set.counts));
  const xLabel = scale.log ? `${chart.xLabel} (log scale)` : chart.xLabel;
  const { y, render } = frame(chart.title, xLabel, 'samples', yMax, top);
  const x = (v: number) => MARGIN.left + scale.at(v) * (WIDTH - MARGIN.left - MARGIN.right);
  const body = [...elements];
  for (const [k, set] of counted.entries()) {
    const color = COLORS[k % COLORS.length];
    for (const [i, count] of set.counts.entries()) {
      if (!count) continue;
      const x0 = x(scale.from(i / bins));
      const barWidth = Math.max(1, x(scale.from((i + 1) / bins)) - x0 - 1);
      body.push(
        `<rect x="${x0.toFixed(1)}" y="${y(count).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${(y(0) - y(count)).toFixed(1)}" fill="${color}" fill-opacity="0.6"/>`,
      );
    }
    for (const [name, v] of [
      ['p50', set.p50],
      ['p99', set.p99],
    ] as const) {
      if (!(v <= end)) continue;
      // Labels near the right edge go left of their line, so they stay inside the picture.
      const left = x(v) > WIDTH - MARGIN.right - 30;
      body.push(
        `<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${top}" y2="${y(0)}" stroke="${color}" stroke-dasharray="4 3"/>`,
        text(
          x(v) + (left ? -3 : 3),
          top + 10 + 12 * k,
          name,
          `fill="${color}"${left ? ' text-anchor="end"' : ''}`,
        ),
      );
    }
  }
  for (const v of scale.ticks) {
    body.push(text(x(v), HEIGHT - MARGIN.bottom + 16, shortNumber(v), 'text-anchor="middle"'));
  }
  return render(body);
}
