/**
 * The result every benchmark part writes with `--out FILE`, so that `npm run bench` (bench/index.ts)
 * can merge the parts, print their figures side by side and draw their series.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';

export interface Machine {
  cpus: number;
  memoryGiB: number;
  node: string;
  /** e.g. "PostgreSQL 17.10 (embedded)". */
  postgres: string;
}

export interface Target {
  op: '<=' | '>=';
  value: number;
}

/**
 * One measured figure, and its target, which is always about `value`. A ratio to a baseline measured in
 * the same run has unit '×' and the baseline's own measurement, whose unit its name says ("raw
 * node:http, p50 ms"); a figure in another unit has a baseline in the same unit, and the report shows
 * value ÷ baseline beside it. `met` is the part's own verdict.
 */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  target?: Target;
  met?: boolean;
  note?: string;
}

export type Point = { x: number; y: number };

export interface PartResult {
  part: string;
  quick: boolean;
  machine: Machine;
  figures: Figure[];
  /**
   * By name: latency samples in ms, drawn as histograms, one per text before ': ' in the name (so
   * "latency @100/s: Microchatter ms" and "latency @100/s: raw node:http ms" share one); or points,
   * drawn as lines, one chart per part.
   */
  series?: Record<string, number[] | Point[]>;
}

export const holds = (target: Target, x: number): boolean =>
  target.op === '<=' ? x <= target.value : x >= target.value;

export function describeMachine(postgresVersion: string, where: string): Machine {
  return {
    cpus: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgres: `${postgresVersion.replace(/ on .*/, '')} (${where})`,
  };
}

/** The value of `--out FILE` on the command line, if any. */
export function outFile(argv = process.argv): string | undefined {
  const at = argv.indexOf('--out');
  return at >= 0 ? argv[at + 1] : undefined;
}

export async function writePartResult(file: string, result: PartResult): Promise<void> {
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
}

/** A run's time as it appears in result file names: 2026-11-25T14-11-21Z (no colons, no fraction). */
export function fileStamp(date = new Date()): string {
  return date
    .toISOString()
    .replace(/:/g, '-')
    .replace(/\.\d+Z$/, 'Z');
}
