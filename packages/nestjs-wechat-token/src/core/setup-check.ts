import { Inject, Injectable, Logger, Optional, type OnModuleInit } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { getMetadataArgsStorage, type DataSource } from 'typeorm';
import { MESSAGES } from './messages.js';
import { WechatTokenSetupError } from './wechat-token.errors.js';
import {
  WECHAT_TOKEN_DATA_SOURCE,
  WECHAT_TOKEN_DATA_SOURCE_NAME,
  WECHAT_TOKEN_ENTITIES,
  WECHAT_TOKEN_OPTIONS,
} from './wechat-token.module-definition.js';
import { passesAtOnce, type ResolvedWechatTokenOptions } from './wechat-token.options.js';

/** A table the module reads and writes, with the columns it must have. */
export interface ExpectedTable {
  table: string;
  columns: string[];
}

/** What a table looks like in the database, as far as the check cares. */
export interface FoundTable {
  table: string;
  present: boolean;
  columns: string[];
}

/**
 * The module's tables and columns, from the entities' TypeORM metadata. Read
 * from the decorators rather than from the host's DataSource: the store's SQL
 * uses these names whatever the DataSource's naming strategy, and a host need
 * not register the entities (`autoLoadEntities`) for the module to work.
 */
export function expectedSchema(): ExpectedTable[] {
  const storage = getMetadataArgsStorage();
  return WECHAT_TOKEN_ENTITIES.map((entity) => ({
    table: storage.tables.find((table) => table.target === entity)?.name ?? entity.name,
    columns: storage.columns
      .filter((column) => column.target === entity)
      .map((column) => column.options.name ?? column.propertyName),
  }));
}

/** The missing tables, else the missing columns (as `table.column`); null when everything is there. */
export function missingSchema(
  expected: readonly ExpectedTable[],
  found: readonly FoundTable[],
): { problem: 'tables_missing' | 'columns_missing'; names: string[] } | null {
  const byName = new Map(found.map((table) => [table.table, table]));
  const tables = expected.filter(({ table }) => !byName.get(table)?.present).map(({ table }) => table);
  if (tables.length > 0) return { problem: 'tables_missing', names: tables };
  const columns = expected.flatMap(({ table, columns: wanted }) => {
    const present = new Set(byName.get(table)?.columns);
    return wanted.filter((column) => !present.has(column)).map((column) => `${table}.${column}`);
  });
  return columns.length > 0 ? { problem: 'columns_missing', names: columns } : null;
}

/**
 * Fails the app's start, with one line that names the fix, when the module
 * cannot work: no `ScheduleModule.forRoot()`, a DataSource that is not
 * Postgres, or the migrations not (all) run. In `onModuleInit`, so before any
 * `onApplicationBootstrap`, where the token service first reads the tables.
 * A database that does not answer is no definite answer: the app starts, and
 * the service copes with the outage as it would later on.
 */
@Injectable()
export class SetupCheck implements OnModuleInit {
  private readonly logger = new Logger('WechatTokenSetup');

  constructor(
    @Inject(WECHAT_TOKEN_DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(WECHAT_TOKEN_DATA_SOURCE_NAME) private readonly dataSourceName: string,
    @Inject(WECHAT_TOKEN_OPTIONS) private readonly options: ResolvedWechatTokenOptions,
    @Optional() private readonly registry?: SchedulerRegistry,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.registry) {
      throw new WechatTokenSetupError('schedule_module_missing', MESSAGES.scheduleModuleMissing());
    }
    const type = String(this.dataSource.options.type);
    if (type !== 'postgres') {
      throw new WechatTokenSetupError('not_postgres', MESSAGES.notPostgres(this.dataSourceName, type));
    }
    // Each pass through a lock holds two connections (the lock's, and one to log its
    // call); the listener one; and one is left for reads.
    const poolMax = poolSizeOf(this.dataSource);
    const passes = passesAtOnce(this.options);
    const poolNeeded = 2 * passes + (this.options.listen ? 1 : 0) + 1;
    if (poolMax !== undefined && poolMax < poolNeeded) {
      this.logger.warn(MESSAGES.poolTooSmall(this.dataSourceName, poolMax, passes, poolNeeded));
    }
    const expected = expectedSchema();
    let found: FoundTable[];
    try {
      found = await this.findTables(expected.map(({ table }) => table));
    } catch (error) {
      const detail = error instanceof Error ? error.message.split('\n')[0].slice(0, 200) : String(error);
      this.logger.warn(MESSAGES.schemaUnchecked(this.dataSourceName, detail));
      return;
    }
    const missing = missingSchema(expected, found);
    if (!missing) return;
    throw new WechatTokenSetupError(
      missing.problem,
      missing.problem === 'tables_missing'
        ? MESSAGES.tablesMissing(this.dataSourceName, missing.names)
        : MESSAGES.columnsMissing(this.dataSourceName, missing.names),
    );
  }

  /** The tables as the store's unqualified SQL sees them: through the connection's search_path. */
  private async findTables(tables: string[]): Promise<FoundTable[]> {
    const rows: { table_name: string; present: boolean; columns: string[] }[] = await this.dataSource.query(
      `SELECT t.name AS table_name, r.rel IS NOT NULL AS present,
         ARRAY(SELECT a.attname::text FROM pg_attribute a
               WHERE a.attrelid = r.rel AND a.attnum > 0 AND NOT a.attisdropped) AS columns
       FROM unnest($1::text[]) AS t(name), LATERAL (SELECT to_regclass(quote_ident(t.name)) AS rel) r`,
      [tables],
    );
    return rows.map((row) => ({ table: row.table_name, present: row.present, columns: row.columns }));
  }
}

/**
 * The connections of the DataSource's pg pool (`extra.max`, pg's default 10),
 * or undefined when it cannot be told (not a pg pool).
 */
export function poolSizeOf(dataSource: DataSource): number | undefined {
  const pool = (dataSource.driver as unknown as { master?: { options?: { max?: unknown } } }).master;
  if (!pool?.options) return undefined;
  const max = pool.options.max;
  return typeof max === 'number' && Number.isFinite(max) ? max : 10;
}
