import { ConfigurableModuleBuilder } from '@nestjs/common';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { AccessTokenEntity } from './access-token.entity.js';
import { TokenFetchAttemptEntity } from './token-fetch-attempt.entity.js';
import { TokenQuotaResetEntity } from './token-quota-reset.entity.js';
import { WechatTicketEntity } from './wechat-ticket.entity.js';
import type { WechatTokenModuleOptions } from './wechat-token.options.js';

/** Extras of `forRoot` / `forRootAsync` beyond the options themselves. */
export interface WechatTokenModuleExtras {
  /** Register the module globally, so other modules need not import it. Default false. */
  isGlobal?: boolean | undefined;
  /**
   * Name of the TypeORM DataSource that holds the module's tables (the `name`
   * given to `TypeOrmModule.forRoot`): the module's entities, its store and
   * its start-up check use it. It must be a Postgres DataSource with the
   * migrations of `WECHAT_TOKEN_MIGRATIONS` run. Default: the default
   * DataSource (`'default'`).
   */
  dataSource?: string | undefined;
}

/** What `@nestjs/typeorm` calls the DataSource of a `TypeOrmModule.forRoot` without `name` (not exported by it). */
const DEFAULT_DATA_SOURCE_NAME = 'default';

/** The module's entities, registered with the DataSource it uses. */
export const WECHAT_TOKEN_ENTITIES = [
  AccessTokenEntity,
  TokenFetchAttemptEntity,
  WechatTicketEntity,
  TokenQuotaResetEntity,
];

/** Injection token of the TypeORM `DataSource` the module uses (the `dataSource` extra). */
export const WECHAT_TOKEN_DATA_SOURCE = Symbol('WECHAT_TOKEN_DATA_SOURCE');
/** Injection token of that DataSource's name, for messages (TypeORM 1 DataSources have no `name`). */
export const WECHAT_TOKEN_DATA_SOURCE_NAME = Symbol('WECHAT_TOKEN_DATA_SOURCE_NAME');

export const {
  ConfigurableModuleClass: ConfigurableWechatTokenModule,
  MODULE_OPTIONS_TOKEN: WECHAT_TOKEN_MODULE_OPTIONS,
  OPTIONS_TYPE: WECHAT_TOKEN_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: WECHAT_TOKEN_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<WechatTokenModuleOptions>()
  .setClassMethodName('forRoot')
  // Every extra needs a key here, even one whose default is "unset": `forRoot`
  // strips only these keys from the options it hands to the module.
  .setExtras<WechatTokenModuleExtras>(
    { isGlobal: false, dataSource: DEFAULT_DATA_SOURCE_NAME },
    (definition, extras) => {
      const dataSource = extras.dataSource ?? DEFAULT_DATA_SOURCE_NAME;
      return {
        ...definition,
        global: extras.isGlobal ?? false,
        // Here rather than in `@Module()`: which DataSource is known only when forRoot is called.
        imports: [...(definition.imports ?? []), TypeOrmModule.forFeature(WECHAT_TOKEN_ENTITIES, dataSource)],
        providers: [
          ...(definition.providers ?? []),
          { provide: WECHAT_TOKEN_DATA_SOURCE, useExisting: getDataSourceToken(dataSource) },
          { provide: WECHAT_TOKEN_DATA_SOURCE_NAME, useValue: dataSource },
        ],
      };
    },
  )
  .build();

/** Injection token of the options with defaults applied (`ResolvedWechatTokenOptions`). */
export const WECHAT_TOKEN_OPTIONS = Symbol('WECHAT_TOKEN_RESOLVED_OPTIONS');
