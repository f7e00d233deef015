/**
 * The README's settings table and .env.example, rendered from the declarations; `npm run config:docs`
 * writes them (generate.ts) and test/http/config-docs.test.ts fails when the committed copies drift.
 */
import type { SettingDoc } from './define.ts';
import { settingGroups } from './groups.ts';
import { configFile } from './sources.ts';

const tableStart = '<!-- settings:start -->';
const tableEnd = '<!-- settings:end -->';

interface Section {
  title: string;
  settings: SettingDoc[];
}

/** The settings file first: it decides where the others may come from. */
export function sections(): Section[] {
  return [
    { title: 'Settings file', settings: [configFile] },
    ...settingGroups.map((group) => ({ title: group.title, settings: Object.values(group.settings) })),
  ];
}

function shownDefault(setting: SettingDoc): string {
  if (setting.shownDefault) return setting.shownDefault;
  return setting.default ? `\`${setting.default}\`` : '—';
}

/** Padded like a formatter would, so the README's source stays readable. */
function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column].length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`;
  const rule = `| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function settingsTable(): string {
  const rows = sections().flatMap((section) =>
    section.settings.map((setting) => {
      // A pipe would split the cell, a newline the row.
      if (/[|\n]/.test(setting.doc)) throw new Error(`${setting.env}: doc must be one line without |`);
      return [`\`${setting.env}\``, shownDefault(setting), setting.doc];
    }),
  );
  return markdownTable(['variable', 'default', 'meaning'], rows);
}

function tableRegion(readme: string): { start: number; end: number } {
  const start = readme.indexOf(tableStart);
  const end = readme.indexOf(tableEnd);
  if (start === -1 || end < start) throw new Error(`README.md: no ${tableStart} … ${tableEnd} region`);
  return { start: start + tableStart.length, end };
}

const generatedNote = '<!-- generated from server/config/ by `npm run config:docs`: edit there -->';

/** What belongs between the markers. */
export function settingsRegion(): string {
  return `${generatedNote}\n${settingsTable()}`;
}

/** What is between the markers now. */
export function readmeSettingsRegion(readme: string): string {
  const { start, end } = tableRegion(readme);
  return readme.slice(start, end).trim();
}

/** `readme` with the text between the markers replaced by the table. */
export function withSettingsTable(readme: string): string {
  const { start, end } = tableRegion(readme);
  return `${readme.slice(0, start)}\n${settingsRegion()}\n${readme.slice(end)}`;
}

export function envExample(): string {
  const header = [
    '# Microchatter settings. Generated from server/config/ by `npm run config:docs`: edit there, not here.',
    '# Each line shows a setting at its default, commented out. An empty value counts as unset.',
  ];
  const blocks = sections().map((section) =>
    [
      `# --- ${section.title} ---`,
      ...section.settings.flatMap((setting) => [
        `# ${setting.doc}`,
        `# ${setting.env}=${setting.default ?? ''}`,
      ]),
    ].join('\n'),
  );
  return `${[header.join('\n'), ...blocks].join('\n\n')}\n`;
}
