import pg from 'pg';

/** First key of the advisory lock: "WTMG", apart from the token module's "WTKN" locks. */
const MIGRATION_LOCK_NAMESPACE = 0x5754_4d47;
const MIGRATION_LOCK_KEY = 1;

/**
 * Runs `work` (typically a DataSource `initialize()` with `migrationsRun`)
 * while holding a cluster-wide advisory lock, so replicas starting together
 * apply the migrations one after the other instead of racing on `CREATE
 * TABLE` (TypeORM takes no lock of its own). The lock is transaction-scoped,
 * so it also works behind PgBouncer in transaction mode.
 */
export async function withMigrationLock<T>(databaseUrl: string, work: () => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: databaseUrl,
    application_name: 'wechat-token migrations',
  });
  // A connection lost while waiting must not crash the process: the query fails instead.
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [
      MIGRATION_LOCK_NAMESPACE,
      MIGRATION_LOCK_KEY,
    ]);
    return await work();
  } finally {
    await client.query('COMMIT').catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}
