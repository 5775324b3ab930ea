import type { TypeOrmModuleOptions } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { SERVER_MIGRATIONS } from '../../migrations/index.js';
import { withMigrationLock } from './migration-lock.js';
import { TypeOrmNestLogger } from './typeorm-logger.js';

/** Failures worth another connection attempt: the database is not (yet) reachable or not ready. */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P03', // cannot_connect_now: starting up or shutting down
  '53300', // too_many_connections
]);

/**
 * The server's TypeORM connection: Postgres at `databaseUrl`, the module's
 * entities (auto-loaded) and migrations, applied at start; no schema
 * synchronisation, and no query logging (parameters carry tokens).
 */
export function typeOrmOptions(databaseUrl: string): TypeOrmModuleOptions {
  return {
    type: 'postgres',
    url: databaseUrl,
    applicationName: 'nestjs-wechat-token',
    autoLoadEntities: true,
    migrations: SERVER_MIGRATIONS,
    migrationsRun: true,
    synchronize: false,
    logging: ['warn', 'migration'],
    logger: new TypeOrmNestLogger(),
    maxQueryExecutionTime: 2000,
    connectTimeoutMS: 10_000,
    // A wrong password or a missing database will not fix itself: fail at once with the reason.
    retryAttempts: 5,
    retryDelay: 2000,
    toRetry: (error: unknown) => TRANSIENT_CODES.has(String((error as { code?: unknown })?.code)),
  };
}

/**
 * `dataSourceFactory` of `TypeOrmModule.forRootAsync`: initialises the
 * DataSource (connect + migrations) under the migration lock, so replicas
 * starting together do not apply the migrations twice.
 */
export async function createLockedDataSource(options?: DataSourceOptions): Promise<DataSource> {
  if (!options || options.type !== 'postgres' || !options.url) {
    throw new Error('createLockedDataSource needs Postgres options with a url');
  }
  const dataSource = new DataSource(options);
  await withMigrationLock(options.url, () => dataSource.initialize());
  return dataSource;
}

/** Applies the module's migrations to `databaseUrl` and disconnects (`npm run migration:run`). */
export async function runMigrations(databaseUrl: string): Promise<string[]> {
  const dataSource = new DataSource({
    type: 'postgres',
    url: databaseUrl,
    applicationName: 'nestjs-wechat-token migrations',
    migrations: SERVER_MIGRATIONS,
    logging: ['warn', 'migration'],
    logger: new TypeOrmNestLogger(),
  });
  return withMigrationLock(databaseUrl, async () => {
    await dataSource.initialize();
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((migration) => migration.name);
    } finally {
      await dataSource.destroy();
    }
  });
}
