import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { DataSource, type MigrationInterface } from 'typeorm';

/**
 * Creates a fresh database on the run's embedded Postgres (started by
 * test/global-setup.ts) and returns its URL. One per test file or scenario.
 */
export async function createTestDatabase(prefix = 't'): Promise<string> {
  const adminUrl = process.env.TEST_PG_ADMIN_URL;
  if (!adminUrl) throw new Error('TEST_PG_ADMIN_URL is not set: run the tests through `npm test`.');
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs SQL on the database at `url` over a connection of its own, and returns the rows. */
export async function queryDatabase<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * The tables of the database at `url` holding `value` anywhere in a row
 * (every column, as text, searched with SQL `LIKE`): `[]` when it is stored
 * nowhere. Names only, never the value.
 */
export async function tablesContaining(url: string, value: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ name: string }>(
      `SELECT quote_ident(table_name) AS name FROM information_schema.tables
       WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    const found: string[] = [];
    for (const { name } of tables.rows) {
      const pattern = `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      const hit = await client.query(`SELECT 1 FROM ${name} t WHERE t::text LIKE $1 LIMIT 1`, [pattern]);
      if (hit.rowCount) found.push(name);
    }
    return found;
  } finally {
    await client.end();
  }
}

/** Runs those of `migrations` not run yet on the database at `url` (a host that upgraded part-way, say). */
export async function runMigrations(
  url: string,
  migrations: ReadonlyArray<new () => MigrationInterface>,
): Promise<void> {
  const dataSource = new DataSource({ type: 'postgres', url, migrations: [...migrations] });
  await dataSource.initialize();
  try {
    await dataSource.runMigrations();
  } finally {
    await dataSource.destroy();
  }
}
