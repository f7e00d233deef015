/**
 * One fresh database per suite, cloned from the migrated template that test/run.ts builds: cloning
 * takes milliseconds where migrating takes seconds, and suites cannot see each other's rows.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { connectDatabase, type PoolOptions, type Sql } from '../../server/db.ts';

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the suites through \`npm test\` (test/run.ts)`);
  return value;
}

export function databaseUrl(database: string): string {
  const url = new URL(requiredEnv('MC_TEST_ADMIN_URL'));
  url.pathname = `/${database}`;
  return url.toString();
}

async function withAdminConnection<T>(work: (admin: postgres.Sql) => Promise<T>): Promise<T> {
  const admin = postgres(requiredEnv('MC_TEST_ADMIN_URL'), { max: 1, onnotice: () => {} });
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

export interface TestDatabase {
  sql: Sql;
  url: string;
  /** Closes `sql` and drops the database. */
  drop(): Promise<void>;
}

export async function freshDatabase(pool: PoolOptions = { max: 4 }): Promise<TestDatabase> {
  // The run id lets test/run.ts drop whatever a crashed suite left behind, and only that.
  const name = `mc_t_${requiredEnv('MC_TEST_RUN_ID')}_${randomBytes(4).toString('hex')}`;
  const template = requiredEnv('MC_TEST_TEMPLATE');
  await withAdminConnection((admin) => admin`create database ${admin(name)} template ${admin(template)}`);
  const url = databaseUrl(name);
  const sql = connectDatabase(url, pool);
  return {
    sql,
    url,
    async drop() {
      await sql.end({ timeout: 5 });
      await withAdminConnection((admin) => admin`drop database if exists ${admin(name)} with (force)`);
    },
  };
}
