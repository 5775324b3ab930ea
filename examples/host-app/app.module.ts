import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { WECHAT_TOKEN_MIGRATIONS, WechatTokenModule } from 'nestjs-wechat-token';
import { ApiIpsModule } from './api-ips/api-ips.module.js';
import { JsapiConfigModule } from './jsapi/jsapi-config.module.js';
import { CreateWechatApiIpSnapshot1763800000000 } from './migrations/1763800000000-CreateWechatApiIpSnapshot.js';

/**
 * A host app: it owns the TypeORM connection (the token module's entities
 * come in through `autoLoadEntities`, its tables through its migrations) and
 * the scheduler, and configures the token module from its environment.
 */
@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true }),
    // The token module registers its refresh job here; it never calls forRoot() itself.
    ScheduleModule.forRoot(),
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        type: 'postgres',
        url: config.getOrThrow<string>('DATABASE_URL'),
        autoLoadEntities: true,
        migrations: [CreateWechatApiIpSnapshot1763800000000, ...WECHAT_TOKEN_MIGRATIONS],
        migrationsRun: true,
      }),
    }),
    WechatTokenModule.forRootAsync({
      isGlobal: true,
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        accounts: [
          {
            appId: config.getOrThrow<string>('WECHAT_APP_ID'),
            secret: config.getOrThrow<string>('WECHAT_APP_SECRET'),
            // Also keep the account's jsapi_ticket, for the pages' wx.config (JsapiConfigModule).
            tickets: ['jsapi'],
          },
        ],
        // Unset in production (WeChat itself); the e2e test points it at the sandbox.
        apiBaseUrl: config.get<string>('WECHAT_API_BASE_URL'),
      }),
    }),
    ApiIpsModule,
    JsapiConfigModule,
  ],
})
export class AppModule {}
