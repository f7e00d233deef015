/**
 * Memory of a server process, measured from outside without changing its code: the process is started
 * with `--expose-gc` and a tiny preloaded module (a data: URL, so no loader is needed) that, on
 * SIGUSR2, runs a full garbage collection twice and writes `process.memoryUsage()` to a file. The
 * benchmark then reads VmRSS from /proc/<pid>/status, so the resident size excludes garbage.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const HOOK = `
import { writeFileSync } from 'node:fs';
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  const file = process.env.BENCH_MEMORY_FILE;
  if (file) writeFileSync(file, JSON.stringify({ at: Date.now(), ...process.memoryUsage() }));
});
`;

export interface MemoryProbe {
  /** Node flags that install the hook (before the tsx loader). */
  nodeFlags: string[];
  /** Environment telling the hook where to write. */
  env: Record<string, string>;
  /** Collects garbage in `pid`, waits `settleMs`, and reads its memory. */
  measure(pid: number, settleMs?: number): Promise<Memory>;
  /** Removes the report file. */
  dispose(): void;
}

export interface Memory {
  /** VmRSS in bytes. */
  rss: number;
  /** V8 heap in use and memory outside it (Buffers, native), from process.memoryUsage(), in bytes. */
  heapUsed: number;
  external: number;
}

/** VmRSS of a process in bytes (Linux). */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function memoryProbe(name: string): MemoryProbe {
  const file = path.join(tmpdir(), `microchatter-bench-memory-${name}-${process.pid}.json`);
  return {
    nodeFlags: ['--expose-gc', '--import', `data:text/javascript,${encodeURIComponent(HOOK)}`],
    env: { BENCH_MEMORY_FILE: file },
    async measure(pid, settleMs = 500) {
      rmSync(file, { force: true });
      process.kill(pid, 'SIGUSR2');
      const deadline = Date.now() + 10_000;
      while (!existsSync(file)) {
        if (Date.now() > deadline) throw new Error(`process ${pid} did not answer the memory probe`);
        await sleep(20);
      }
      await sleep(settleMs);
      const report = JSON.parse(readFileSync(file, 'utf8')) as { heapUsed: number; external: number };
      return { rss: residentBytes(pid), heapUsed: report.heapUsed, external: report.external };
    },
    dispose: () => rmSync(file, { force: true }),
  };
}
