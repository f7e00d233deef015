/**
 * Who used the CPUs during a timed window: the server, PostgreSQL, the load generator, and the whole
 * machine, read from /proc (Linux only; elsewhere the figures are left out). On a 2-core machine
 * where server, database and load generator share the cores, this is what explains a ratio.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** /proc counts CPU time in clock ticks; 100 per second on every Linux this runs on. */
const TICK_MS = 10;

/** utime + stime of a process in ms, or undefined when it is gone or /proc is absent. */
function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), which is in parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** The postmaster and all its children (backends, walwriter, …), given one backend's pid. */
function postgresProcesses(backendPid: number): () => number[] {
  const postmaster = parentOf(backendPid);
  return () => {
    if (postmaster === undefined) return [];
    const pids = [postmaster];
    try {
      for (const entry of readdirSync('/proc')) {
        if (/^\d+$/.test(entry) && parentOf(Number(entry)) === postmaster) pids.push(Number(entry));
      }
    } catch {
      return [];
    }
    return pids;
  };
}

/**
 * PostgreSQL's processes (as postgresProcesses), when it runs on this machine: embedded, or at a
 * loopback address (`where` as BenchDatabase gives it). Elsewhere none: their CPU is not ours to read.
 */
export function localPostgresProcesses(where: string, backendPid: number | undefined): () => number[] {
  const local = where === 'embedded' || /^(localhost|127\.0\.0\.1|\[::1\])(:|$)/.test(where);
  return local && backendPid !== undefined ? postgresProcesses(backendPid) : () => [];
}

/** Busy and total ms of all CPUs together since boot, from the first line of /proc/stat. */
export function machineCpuMs(): { busy: number; total: number } | undefined {
  try {
    const [, ...fields] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/);
    const ticks = fields.map(Number);
    const total = ticks.reduce((sum, x) => sum + x, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return { busy: (total - idle) * TICK_MS, total: total * TICK_MS };
  } catch {
    return undefined;
  }
}

/** CPU ms used in the window, per group of processes, and the machine's busy share (0..1). */
export interface CpuUse {
  byGroup: Record<string, number>;
  machineBusy?: number;
}

/**
 * Snapshots CPU counters at `open()` and `close()`. Groups are functions returning their pids, asked
 * at both ends (a process present at only one end is left out: its time cannot be split).
 */
export function cpuMeter(groups: Record<string, () => number[]>) {
  let start: { perPid: Map<number, number>[]; machine: ReturnType<typeof machineCpuMs> } | undefined;
  let result: CpuUse | undefined;
  const sample = () =>
    Object.values(groups).map((pids) => {
      const perPid = new Map<number, number>();
      for (const pid of pids()) {
        const ms = processCpuMs(pid);
        if (ms !== undefined) perPid.set(pid, ms);
      }
      return perPid;
    });
  return {
    open() {
      start = { perPid: sample(), machine: machineCpuMs() };
    },
    close() {
      if (!start) return;
      const end = sample();
      const machine = machineCpuMs();
      const byGroup: Record<string, number> = {};
      Object.keys(groups).forEach((name, index) => {
        let ms = 0;
        for (const [pid, after] of end[index] ?? []) {
          const before = start?.perPid[index]?.get(pid);
          if (before !== undefined) ms += after - before;
        }
        byGroup[name] = ms;
      });
      const machineBusy =
        start.machine && machine
          ? (machine.busy - start.machine.busy) / (machine.total - start.machine.total)
          : undefined;
      result = machineBusy === undefined ? { byGroup } : { byGroup, machineBusy };
    },
    /** The last window's figures (after close). */
    result: () => result,
  };
}
