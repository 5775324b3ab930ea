import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { hostname } from 'node:os';
import { CLOCK, ClusterClock } from './clock.js';
import { CredentialEngine } from './credential-engine.js';
import { CredentialRefresher } from './credential-refresher.js';
import { PostgresTokenStore } from './postgres-token-store.js';
import { QuotaResumer } from './quota-resume.js';
import { RefreshScheduler } from './refresh.scheduler.js';
import { SetupCheck } from './setup-check.js';
import { TOKEN_STORE } from './token-store.js';
import { WechatApiClient } from './wechat-api.client.js';
import {
  ConfigurableWechatTokenModule,
  WECHAT_TOKEN_MODULE_OPTIONS,
  WECHAT_TOKEN_OPTIONS,
} from './wechat-token.module-definition.js';
import { resolveOptions, type WechatTokenModuleOptions } from './wechat-token.options.js';
import { WechatTokenEvents } from './wechat-token.events.js';
import { WechatTokenService } from './wechat-token.service.js';

/**
 * Keeps the access_tokens (and jsapi / wx_card tickets) of WeChat accounts:
 * fetched once for the whole cluster, stored in Postgres, refreshed ahead of
 * expiry. Needs a TypeORM
 * Postgres DataSource (the default one, or the one named by the `dataSource`
 * extra) with the migrations of `WECHAT_TOKEN_MIGRATIONS` run, and
 * `ScheduleModule.forRoot()` in the app: the app's start fails with a message
 * naming the fix when either is missing. Exports `WechatTokenService`.
 */
@Module({
  // TypeOrmModule.forFeature comes from forRoot / forRootAsync, which know the DataSource.
  imports: [HttpModule],
  providers: [
    {
      provide: WECHAT_TOKEN_OPTIONS,
      useFactory: (options: WechatTokenModuleOptions) =>
        resolveOptions(options, `${hostname()}:${process.pid}`),
      inject: [WECHAT_TOKEN_MODULE_OPTIONS],
    },
    { provide: CLOCK, useClass: ClusterClock },
    { provide: TOKEN_STORE, useClass: PostgresTokenStore },
    WechatApiClient,
    WechatTokenEvents,
    CredentialRefresher,
    CredentialEngine,
    QuotaResumer,
    WechatTokenService,
    RefreshScheduler,
    SetupCheck,
  ],
  exports: [WechatTokenService, WECHAT_TOKEN_OPTIONS, TOKEN_STORE],
})
export class WechatTokenModule extends ConfigurableWechatTokenModule {}
