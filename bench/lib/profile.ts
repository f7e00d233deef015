/**
 * A short summary of a V8 CPU profile (`node --cpu-prof`): self time by function and by where the code
 * lives (the server's own files, Hono, the Node adapter, postgres, jose, Node internals, idle/GC), so
 * a benchmark can say where a server process spends its CPU without opening a profiler.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface ProfileSummary {
  file: string;
  /** Profiled wall time in ms. */
  totalMs: number;
  /** Share of the busy (non-idle) samples per area, highest first. */
  areas: { area: string; share: number }[];
  /** Functions with the most self time, highest first. */
  functions: { name: string; where: string; share: number }[];
}

function areaOf(url: string, name: string): string {
  if (name === '(garbage collector)') return 'garbage collector';
  if (name === '(program)' || name === '(root)') return 'V8/native (program)';
  if (url.includes('/node_modules/@hono/node-server/')) return '@hono/node-server';
  if (url.includes('/node_modules/hono/')) return 'hono';
  if (url.includes('/node_modules/postgres/')) return 'postgres (client)';
  if (url.includes('/node_modules/jose/')) return 'jose (JWT)';
  if (url.includes('/node_modules/')) {
    const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    return match?.[1] ?? 'other packages';
  }
  if (url.includes('/server/')) return 'server/*.ts';
  if (url.startsWith('node:') || url === '') return 'Node internals';
  return 'other';
}

export function summarizeProfile(profile: CpuProfile, file: string, top = 15): ProfileSummary {
  // Shares are of the time the process was busy: idle samples (waiting for the network) are left out.
  const busy = (node: ProfileNode) => (node.callFrame.functionName === '(idle)' ? 0 : (node.hitCount ?? 0));
  const total = profile.nodes.reduce((sum, node) => sum + busy(node), 0) || 1;
  const areas = new Map<string, number>();
  const functions = new Map<string, { name: string; where: string; hits: number }>();
  for (const node of profile.nodes) {
    const hits = busy(node);
    if (!hits) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + hits);
    const name = functionName || '(anonymous)';
    const where = url
      ? `${url.replace(/^file:\/\/.*?\/(node_modules|server)\//, '$1/')}:${lineNumber + 1}`
      : '';
    const key = `${name} ${where}`;
    const entry = functions.get(key) ?? { name, where, hits: 0 };
    entry.hits += hits;
    functions.set(key, entry);
  }
  return {
    file,
    totalMs: (profile.endTime - profile.startTime) / 1000,
    areas: [...areas]
      .map(([area, hits]) => ({ area, share: hits / total }))
      .sort((a, b) => b.share - a.share),
    functions: [...functions.values()]
      .sort((a, b) => b.hits - a.hits)
      .slice(0, top)
      .map(({ name, where, hits }) => ({ name, where, share: hits / total })),
  };
}

/**
 * Summarizes the profile in `dir` (node writes one per thread when the profiled process exits; with
 * tsx's loader there is more than one): the one with the most busy samples, the main thread's.
 */
export async function summarizeProfileDir(dir: string, top = 15): Promise<ProfileSummary | undefined> {
  let best: { summary: ProfileSummary; busy: number } | undefined;
  for (const name of (await readdir(dir)).filter((name) => name.endsWith('.cpuprofile'))) {
    const file = path.join(dir, name);
    const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
    const busy = profile.nodes.reduce(
      (sum, node) => sum + (node.callFrame.functionName === '(idle)' ? 0 : (node.hitCount ?? 0)),
      0,
    );
    if (!best || busy > best.busy) best = { summary: summarizeProfile(profile, file, top), busy };
  }
  return best?.summary;
}

/** The summary as printable lines. */
export function profileLines(summary: ProfileSummary): string[] {
  const pct = (share: number) => `${(share * 100).toFixed(1)}%`.padStart(6);
  return [
    `profile ${summary.file} (${(summary.totalMs / 1000).toFixed(1)} s)`,
    '  by area:',
    ...summary.areas.slice(0, 12).map(({ area, share }) => `  ${pct(share)}  ${area}`),
    '  top functions by self time:',
    ...summary.functions.map(({ name, where, share }) => `  ${pct(share)}  ${name} ${where}`),
  ];
}
