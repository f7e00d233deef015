/**
 * `npx microchatter <command>` (bin/microchatter.js runs this file through tsx). The same
 * configuration as `npm start` (server/config.ts) decides where the database is and which secrets
 * sign tokens; commands that need the database use server/cli/database.ts.
 *
 * Results go to stdout, notes and progress to stderr. A mistake (a bad argument, a refused user, an
 * unreachable database) is one line on stderr and exit code 1, never a stack trace.
 */
import { Command, InvalidArgumentError } from 'commander';
import postgres from 'postgres';
import { backup, restore } from './cli/backup.ts';
import { withDatabase } from './cli/database.ts';
import { describeImport, importUsers } from './cli/import.ts';
import type { Format } from './cli/records.ts';
import { adminToken, mintUserToken, parseDuration } from './cli/tokens.ts';
import { createUser, promptPassword } from './cli/users.ts';
import { type Config, loadConfig } from './config.ts';
import { ApiError } from './errors.ts';
import { applyMigrations } from './migrate.ts';

/** Exit code of `import-users` when it finished but skipped rows. */
const EXIT_ROWS_SKIPPED = 2;

function oneLine(error: unknown): string {
  if (error instanceof postgres.PostgresError || error instanceof ApiError) {
    return `${error.message} (${error.code})`;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ECONNREFUSED' || code === 'CONNECT_TIMEOUT' || code === 'ENOTFOUND') {
    return `cannot connect to the database (${code}): is DATABASE_URL right and PostgreSQL running?`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Runs a command's body; any failure becomes one line on stderr and exit code 1. */
function action<A extends unknown[]>(body: (config: Config, ...args: A) => Promise<number | undefined>) {
  return async (...args: A) => {
    try {
      const code = await body(loadConfig(), ...args);
      process.exitCode = code ?? 0;
    } catch (error) {
      console.error(`microchatter: ${oneLine(error)}`);
      process.exitCode = 1;
    }
  };
}

function positiveInteger(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1)
    throw new InvalidArgumentError('expected a whole number above 0');
  return Number(text);
}

function ttl(text: string): number {
  try {
    return parseDuration(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function format(text: string): Format {
  if (text !== 'csv' && text !== 'jsonl') throw new InvalidArgumentError('expected csv or jsonl');
  return text;
}

const program = new Command('microchatter')
  .description(
    'Microchatter: chat backend for websites. Settings come from the environment, as for `npm start` ' +
      '(DATABASE_URL, or the embedded PostgreSQL in MICROCHATTER_DATA_DIR; see the README).',
  )
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text) });

program
  .command('start')
  .summary('run the server')
  .description('Run the server, as npm start does.')
  .action(async () => {
    await import('./main.ts');
  });

program
  .command('migrate')
  .summary('migrate the database')
  .description('Apply the committed migrations to the database (embedded or DATABASE_URL), and exit.')
  .action(
    action(async (config) => {
      await withDatabase(config, { migrate: false }, ({ url }) => applyMigrations(url));
      console.log('migrations applied');
      return 0;
    }),
  );

program
  .command('create-user')
  .summary('create a user')
  .description("Create a user, the mirror of a site user, named by the site's id.")
  .argument('<id>', "the site's user id")
  .option('--name <display name>', 'display name')
  .option('--password-prompt', 'ask for a password for HTTP Basic logins (on a pipe: read the first line)')
  .action(
    action(async (config, id: string, options: { name?: string; passwordPrompt?: boolean }) => {
      const password = options.passwordPrompt ? await promptPassword() : undefined;
      await withDatabase(config, { migrate: true }, async ({ sql }) => {
        const user = await createUser(sql, { userId: id, displayName: options.name, password });
        console.log(`created user ${user.user_id}${password ? ' with a password' : ''}`);
      });
      return 0;
    }),
  );

program
  .command('import-users')
  .summary('create or update users from a CSV or JSONL file')
  .description(
    'Create or update users from a CSV file (header row: user_id, display_name, password_hash) or a ' +
      'JSONL file (one {"user_id", "display_name"?, "password_hash"?} a line), in batches through ' +
      'chat_admin.import_users. Idempotent: a second run writes nothing. Rows that cannot be imported ' +
      `are skipped and listed by line number, and the exit code is then ${EXIT_ROWS_SKIPPED}.`,
  )
  .argument('<file>', 'a .csv or .jsonl file')
  .option('--format <format>', 'csv or jsonl, when the file name does not say', format)
  .option('--batch-size <rows>', 'users per call of chat_admin.import_users', positiveInteger, 1000)
  .action(
    action(async (config, file: string, options: { format?: Format; batchSize: number }) => {
      const report = await withDatabase(config, { migrate: true }, ({ sql }) =>
        importUsers(sql, file, {
          format: options.format,
          batchSize: options.batchSize,
          progress: process.stderr.isTTY === true,
        }),
      );
      for (const row of report.skipped) console.error(`line ${row.line}: skipped: ${row.reason}`);
      console.log(describeImport(file, report));
      return report.skipped.length > 0 ? EXIT_ROWS_SKIPPED : 0;
    }),
  );

program
  .command('token')
  .summary('print a token for a user')
  .description(
    "Print a token for an existing user, signed with the server's secret (MICROCHATTER_JWT_SECRET, or " +
      'the one generated in the data directory), as POST /admin/rpc/issue_token does.',
  )
  .argument('<user>', "the user's id")
  .option('--ttl <duration>', 'lifetime: seconds, or with s, m, h, d (default MICROCHATTER_TOKEN_TTL)', ttl)
  .action(
    action(async (config, user: string, options: { ttl?: number }) => {
      const issued = await withDatabase(config, { migrate: true }, ({ sql }) =>
        mintUserToken(config, sql, user, options.ttl),
      );
      console.error(`token for ${user}, valid until ${issued.expires_at}`);
      console.log(issued.token);
      return 0;
    }),
  );

program
  .command('admin-token')
  .summary('print the admin token')
  .description('Print the admin token: MICROCHATTER_ADMIN_TOKEN, or the one generated in the data directory.')
  .action(
    action(async (config) => {
      console.log(await adminToken(config));
      return 0;
    }),
  );

program
  .command('backup')
  .summary('write the chat data to a file (no pg_dump needed)')
  .description(
    'Write every row of the chat schemas to a file, from one consistent snapshot (the server may keep ' +
      'running); gzip when the name ends in .gz. See docs/operations.md for what it covers.',
  )
  .argument('<file>', 'the backup file to write')
  .action(
    action(async (config, file: string) => {
      const summary = await withDatabase(config, { migrate: false }, ({ sql }) => backup(sql, file));
      console.log(
        `${file}: ${summary.rows} rows of ${summary.tables} tables, at migration ${summary.migration}`,
      );
      return 0;
    }),
  );

program
  .command('restore')
  .summary('load a backup into a fresh database')
  .description(
    'Load a file written by `microchatter backup` into a fresh database: migrates it, checks that the ' +
      "migration level is the backup's, then copies every row back and sets the sequences, in one transaction.",
  )
  .argument('<file>', 'a file written by microchatter backup')
  .option('--force', 'replace the users, chats and events of a database that already has users')
  .action(
    action(async (config, file: string, options: { force?: boolean }) => {
      const summary = await withDatabase(config, { migrate: true }, ({ sql }) =>
        restore(sql, file, { force: options.force === true }),
      );
      console.log(`${file}: restored ${summary.rows} rows of ${summary.tables} tables`);
      return 0;
    }),
  );

await program.parseAsync();
