/**
 * Child processes of a benchmark (servers under test, load generators), started with the same Node and
 * TypeScript loader as the project, and stopped on every way out: normal end, error, Ctrl-C, SIGTERM.
 * A benchmark that dies must not leave a server holding a port or a connection to a dropped database.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/lib/ is two levels down). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Node flags every child gets: TypeScript through tsx, as `npm start` and the benchmarks run. */
const LOADER = ['--import', 'tsx'];

const running = new Set<ChildProcess>();

function killAll(signal: NodeJS.Signals): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }
}

let hooked = false;
/**
 * Last resort when the benchmark exits without stopping its children (an uncaught error, or a signal
 * whose other handler calls process.exit): SIGKILL is the only thing an exit hook can still send.
 * On SIGINT/SIGTERM the children get a SIGTERM right away, so the server can close its pool before the
 * benchmark database is dropped.
 */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => killAll('SIGKILL'));
  const onSignal = () => killAll('SIGTERM');
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
}

export interface Child {
  process: ChildProcess;
  /** The first match of `ready` in its standard output. */
  ready: RegExpExecArray;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

function stopper(child: ChildProcess): (graceMs?: number) => Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  void exited.then(() => running.delete(child));
  return async (graceMs = 5000) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    await exited;
  };
}

export interface SpawnOptions {
  /** Extra environment variables (the benchmark's own environment is passed on). */
  env?: Record<string, string>;
  /** Node flags before the loader, e.g. --cpu-prof. */
  nodeFlags?: string[];
  /** Printed on standard output once the process is ready; its match is returned. */
  ready: RegExp;
  /** How long to wait for `ready`. */
  timeoutMs?: number;
  /** Label in error messages. */
  name: string;
}

/** Starts `node --import tsx <script>` and waits until it prints a line matching `ready`. */
export async function spawnNode(script: string, args: string[], options: SpawnOptions): Promise<Child> {
  hookExit();
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...LOADER, script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const stop = stopper(child);
  let output = '';
  let errors = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    errors = (errors + chunk).slice(-4000);
  });
  try {
    const ready = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`${options.name} printed no ready line within ${options.timeoutMs ?? 30_000} ms`)),
        options.timeoutMs ?? 30_000,
      );
      const onOutput = (chunk: string) => {
        output = (output + chunk).slice(-4000);
        const match = options.ready.exec(output);
        if (match) {
          clearTimeout(timer);
          // Once ready, its output (a log line per request, for a server) is only drained: no
          // benchmark pays for searching it while it measures.
          child.stdout?.off('data', onOutput);
          resolve(match);
        }
      };
      child.stdout?.setEncoding('utf8').on('data', onOutput);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${options.name} exited (${signal ?? code}) before it was ready`));
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    // Keep draining its output so a chatty child never blocks on a full pipe.
    child.stdout?.resume();
    return { process: child, ready, stop };
  } catch (error) {
    await stop(1000);
    const detail = errors.trim() ? `\n${options.name} stderr:\n${errors.trim()}` : '';
    throw new Error(`${(error as Error).message}${detail}`);
  }
}

/** Starts `node --import tsx <module>` with an IPC channel (child_process.fork). */
export function forkNode(module: string, name: string): { process: ChildProcess; stop: Child['stop'] } {
  hookExit();
  const child = fork(module, [], {
    cwd: ROOT,
    execArgv: [...LOADER],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  running.add(child);
  child.once('error', (error) => console.error(`${name}: ${error.message}`));
  return { process: child, stop: stopper(child) };
}
