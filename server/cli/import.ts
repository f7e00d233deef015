/**
 * `import-users <file>`: streams a CSV or JSONL file into chat_admin.import_users in batches.
 *
 * import_users takes a batch whole or not at all, so a batch it refuses is split in halves until the
 * refused rows stand alone; those are skipped and reported with their line numbers and SQL's reason,
 * and every other row is imported. Importing the same file again writes nothing (import_users leaves
 * unchanged users alone) and says so.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import type { Sql } from '../db.ts';
import { statusByCode, toApiError } from '../errors.ts';
import { createProgress } from './progress.ts';
import { type Format, formatOf, readUsers } from './records.ts';

export interface ImportOptions {
  format: Format | undefined;
  batchSize: number;
  /** Draw a progress line on stderr (on a terminal). */
  progress: boolean;
}

export interface SkippedRow {
  line: number;
  reason: string;
}

export interface ImportReport {
  read: number;
  inserted: number;
  updated: number;
  /** Rows import_users accepted but did not need to write: already there as given, or repeated. */
  unchanged: number;
  skipped: SkippedRow[];
}

interface Row {
  line: number;
  user: Record<string, unknown>;
}

/** A refusal of the rows themselves (SQL's 4xx codes and bad values), as opposed to a failing database. */
function refusesRows(error: unknown): error is postgres.PostgresError {
  return error instanceof postgres.PostgresError && statusByCode[toApiError(error).code] < 500;
}

async function importBatch(sql: Sql, rows: Row[], report: ImportReport): Promise<void> {
  try {
    const users = rows.map((row) => row.user) as postgres.JSONValue;
    const [result] = await sql<{ inserted: number; updated: number }[]>`
      select inserted, updated from chat_admin.import_users(${sql.json(users)})`;
    const inserted = result?.inserted ?? 0;
    const updated = result?.updated ?? 0;
    report.inserted += inserted;
    report.updated += updated;
    report.unchanged += rows.length - inserted - updated;
  } catch (error) {
    if (!refusesRows(error)) throw error;
    const [only] = rows;
    if (rows.length === 1 && only) {
      report.skipped.push({ line: only.line, reason: `${error.message} (${error.code})` });
      return;
    }
    const half = Math.ceil(rows.length / 2);
    await importBatch(sql, rows.slice(0, half), report);
    await importBatch(sql, rows.slice(half), report);
  }
}

/**
 * The header's columns are checked by import_users itself, on a probe user in a transaction that is
 * rolled back: a misspelt column is one error at once rather than every row skipped.
 */
async function checkColumns(sql: Sql, columns: string[]): Promise<void> {
  const probe = Object.fromEntries(columns.map((name) => [name, name === 'user_id' ? 'column-check' : null]));
  const rollback = new Error('rollback');
  try {
    await sql.begin(async (tx) => {
      await tx`select chat_admin.import_users(${tx.json([probe])})`;
      throw rollback;
    });
  } catch (error) {
    if (error === rollback) return;
    if (refusesRows(error)) throw new Error(`line 1: the header does not fit: ${error.message}`);
    throw error;
  }
}

export async function importUsers(sql: Sql, file: string, options: ImportOptions): Promise<ImportReport> {
  const format = options.format ?? formatOf(file);
  if (!format) {
    throw new Error(
      `${file}: cannot tell the format from the name; name it .csv or .jsonl, or pass --format`,
    );
  }
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error(`${file} is not a file`);
    size = info.size;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${file}: no such file`);
    if (code === 'EACCES') throw new Error(`${file}: permission denied`);
    throw error;
  }

  const report: ImportReport = { read: 0, inserted: 0, updated: 0, unchanged: 0, skipped: [] };
  const progress = options.progress ? createProgress(path.basename(file), size) : undefined;
  let batch: Row[] = [];
  const flush = async () => {
    await importBatch(sql, batch, report);
    batch = [];
    progress?.rows(report.read);
  };
  try {
    const records = readUsers(file, {
      format,
      onBytes: progress?.bytes,
      checkColumns: (columns) => checkColumns(sql, columns),
    });
    for await (const record of records) {
      report.read++;
      if (record.user) batch.push({ line: record.line, user: record.user });
      else report.skipped.push({ line: record.line, reason: record.problem ?? 'unreadable' });
      if (batch.length >= options.batchSize) await flush();
    }
    if (batch.length > 0) await flush();
  } finally {
    progress?.done();
  }
  report.skipped.sort((a, b) => a.line - b.line);
  return report;
}

export function describeImport(file: string, report: ImportReport): string {
  const imported = report.read - report.skipped.length;
  const counts = `${report.inserted} new, ${report.updated} updated, ${report.unchanged} unchanged`;
  const skipped = report.skipped.length > 0 ? `; ${report.skipped.length} skipped` : '';
  const nothing = report.inserted + report.updated === 0 && imported > 0 ? ': nothing new to import' : '';
  return `${file}: ${report.read} rows read, ${imported} imported (${counts})${skipped}${nothing}`;
}
