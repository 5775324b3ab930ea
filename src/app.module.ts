import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { WechatTokenModule } from 'nestjs-wechat-token';
import { SERVER_CONFIG_KEY, type ServerConfig } from './config/server-config.js';
import { ServerConfigModule } from './config/server-config.module.js';
import { createLockedDataSource, typeOrmOptions } from './database/typeorm-options.js';
import { HttpApiModule } from './http-api.module.js';

/** A `ServerConfig` whose database is decided (the embedded one, when `DATABASE_URL` was unset). */
export type ResolvedServerConfig = ServerConfig & { databaseUrl: string };

/**
 * The token server: the config (as `ConfigService` / `SERVER_CONFIG`), the
 * scheduler, the TypeORM connection (migrations applied at start), the token
 * module configured from `ConfigService`, and the HTTP API.
 */
@Module({})
export class AppModule {
  static forRoot(config: ResolvedServerConfig): DynamicModule {
    const serverConfig = (configService: ConfigService): ResolvedServerConfig =>
      configService.getOrThrow<ResolvedServerConfig>(SERVER_CONFIG_KEY);
    const tokenModule = WechatTokenModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (configService: ConfigService) => {
        const config = serverConfig(configService);
        // SECRETS_KEY also seals the tokens and tickets the module stores.
        return { ...config.token, encryptionKeys: config.secretsKeys };
      },
    });
    return {
      module: AppModule,
      imports: [
        ServerConfigModule.forRoot(config),
        ScheduleModule.forRoot(),
        TypeOrmModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (configService: ConfigService) =>
            typeOrmOptions(serverConfig(configService).databaseUrl),
          dataSourceFactory: createLockedDataSource,
        }),
        tokenModule,
        // The token module is handed to the HTTP API as an import rather than made global: a
        // global one may be shut down after TypeORM, whose pool then waits forever for the
        // token module's LISTEN connection.
        { module: HttpApiModule, imports: [tokenModule] },
      ],
    };
  }
}
