/** A one-line progress bar on stderr, redrawn at most every 100 ms; for terminals only. */

export interface Progress {
  /** Bytes of the input read so far (added). */
  bytes: (count: number) => void;
  /** Rows done so far (total). */
  rows: (count: number) => void;
  /** Clears the line. */
  done: () => void;
}

const WIDTH = 24;

export function createProgress(label: string, totalBytes: number): Progress {
  const started = Date.now();
  let bytes = 0;
  let rows = 0;
  let drawnAt = 0;
  const draw = () => {
    const now = Date.now();
    if (now - drawnAt < 100) return;
    drawnAt = now;
    const share = totalBytes > 0 ? Math.min(1, bytes / totalBytes) : 1;
    const filled = Math.round(share * WIDTH);
    const rate = Math.round(rows / Math.max(0.001, (now - started) / 1000));
    const bar = `${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}`;
    const percent = `${Math.floor(share * 100)}%`.padStart(4);
    process.stderr.write(`\r\u001b[K${label} [${bar}] ${percent}  ${rows} rows  ${rate} rows/s`);
  };
  return {
    bytes(count) {
      bytes += count;
      draw();
    },
    rows(count) {
      rows = count;
      draw();
    },
    done() {
      if (drawnAt > 0) process.stderr.write('\r\u001b[K');
    },
  };
}
