/**
 * Users read from a CSV or JSONL file, streamed line by line, each with the line it starts on.
 *
 * Only the file's syntax is checked here (CSV quoting and field counts, JSON); what a valid user is
 * (keys, lengths, hash formats) is chat_admin.import_users's to say, which keeps one copy of the rules.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

export type Format = 'csv' | 'jsonl';

export interface SourceRecord {
  /** 1-based line on which the record starts. */
  line: number;
  /** The user as import_users takes it, or why the line could not be read. */
  user: Record<string, unknown> | undefined;
  problem: string | undefined;
}

export interface ReadOptions {
  format: Format;
  /** Called with the byte count of each line read, for progress. */
  onBytes?: (bytes: number) => void;
  /** Called once with the CSV header's column names, before any record; may throw to stop. */
  checkColumns?: (columns: string[]) => Promise<void>;
}

/** A quoted CSV field may span lines; past this much, an unclosed quote is taken for a mistake. */
const MAX_RECORD_LENGTH = 1 << 20;

export function formatOf(file: string): Format | undefined {
  if (/\.csv$/i.test(file)) return 'csv';
  if (/\.(jsonl|ndjson)$/i.test(file)) return 'jsonl';
  return undefined;
}

type CsvParse = { fields: string[] } | { open: true } | { problem: string };

/** RFC 4180: comma-separated, `"` quotes a field, `""` inside quotes is a quote. */
function parseCsvRecord(text: string): CsvParse {
  const fields: string[] = [];
  let at = 0;
  for (;;) {
    let field = '';
    if (text[at] === '"') {
      at++;
      for (;;) {
        const quote = text.indexOf('"', at);
        if (quote < 0) return { open: true };
        field += text.slice(at, quote);
        at = quote + 1;
        if (text[at] !== '"') break;
        field += '"';
        at++;
      }
      if (at < text.length && text[at] !== ',') {
        return { problem: `unexpected text after the closing quote of field ${fields.length + 1}` };
      }
    } else {
      const comma = text.indexOf(',', at);
      field = text.slice(at, comma < 0 ? text.length : comma);
      if (field.includes('"')) {
        return {
          problem: `a quote inside unquoted field ${fields.length + 1} (quote the field and double it)`,
        };
      }
      at += field.length;
    }
    fields.push(field);
    if (at >= text.length) return { fields };
    at++; // the comma
  }
}

function checkHeader(fields: string[]): string[] {
  const columns = fields.map((name) => name.trim());
  const blank = columns.indexOf('');
  if (blank >= 0) throw new Error(`line 1: column ${blank + 1} of the header has no name`);
  const repeated = columns.find((name, index) => columns.indexOf(name) !== index);
  if (repeated !== undefined) throw new Error(`line 1: column ${repeated} appears twice in the header`);
  return columns;
}

async function* lines(file: string, onBytes: ((bytes: number) => void) | undefined) {
  const input = createReadStream(file, { encoding: 'utf8' });
  const reader = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let number = 0;
  try {
    for await (const text of reader) {
      number++;
      onBytes?.(Buffer.byteLength(text) + 1);
      // A byte order mark, as spreadsheet programs write, is not part of the first column's name.
      yield { number, text: number === 1 ? text.replace(/^\uFEFF/, '') : text };
    }
  } finally {
    reader.close();
    input.destroy();
  }
}

async function* readCsv(file: string, options: ReadOptions): AsyncGenerator<SourceRecord> {
  let columns: string[] | undefined;
  let pending: { line: number; text: string } | undefined;
  for await (const { number, text } of lines(file, options.onBytes)) {
    const record = pending
      ? { line: pending.line, text: `${pending.text}\n${text}` }
      : { line: number, text };
    pending = undefined;
    if (record.text.trim() === '') continue;
    const parsed = parseCsvRecord(record.text);
    if ('open' in parsed) {
      if (record.text.length <= MAX_RECORD_LENGTH) {
        pending = record;
        continue;
      }
      yield { line: record.line, user: undefined, problem: 'a quoted field is never closed' };
      continue;
    }
    if ('problem' in parsed) {
      if (!columns)
        throw new Error(`line ${record.line}: the header row is not valid CSV: ${parsed.problem}`);
      yield { line: record.line, user: undefined, problem: parsed.problem };
      continue;
    }
    if (!columns) {
      columns = checkHeader(parsed.fields);
      await options.checkColumns?.(columns);
      continue;
    }
    if (parsed.fields.length !== columns.length) {
      const problem = `expected ${columns.length} fields, found ${parsed.fields.length}`;
      yield { line: record.line, user: undefined, problem };
      continue;
    }
    // CSV cannot tell an empty value from a missing one: empty is "not given", as in the JSON shape.
    const user: Record<string, unknown> = {};
    parsed.fields.forEach((value, index) => {
      if (value !== '') user[columns?.[index] ?? ''] = value;
    });
    yield { line: record.line, user, problem: undefined };
  }
  if (pending) yield { line: pending.line, user: undefined, problem: 'a quoted field is never closed' };
  if (!columns) throw new Error('the file is empty: a CSV file starts with a header row (user_id, …)');
}

async function* readJsonl(file: string, options: ReadOptions): AsyncGenerator<SourceRecord> {
  for await (const { number, text } of lines(file, options.onBytes)) {
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      yield { line: number, user: undefined, problem: 'not valid JSON' };
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      yield { line: number, user: undefined, problem: 'not a JSON object' };
      continue;
    }
    yield { line: number, user: value as Record<string, unknown>, problem: undefined };
  }
}

export function readUsers(file: string, options: ReadOptions): AsyncGenerator<SourceRecord> {
  return options.format === 'csv' ? readCsv(file, options) : readJsonl(file, options);
}
