import { Global, Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, ConfigService, registerAs } from '@nestjs/config';
import { SERVER_CONFIG, SERVER_CONFIG_KEY, type ServerConfig } from './server-config.js';

/**
 * Makes the parsed `ServerConfig` available app-wide: through `ConfigService`
 * (`config.getOrThrow<ServerConfig>(SERVER_CONFIG_KEY)`) and as the
 * `SERVER_CONFIG` provider. The environment itself is read once, before Nest
 * starts (`parseServerConfig`), so neither `.env` nor `process.env` is read here.
 */
@Global()
@Module({})
export class ServerConfigModule {
  static forRoot(config: ServerConfig): DynamicModule {
    return {
      module: ServerConfigModule,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          validatePredefined: false,
          skipProcessEnv: true,
          load: [registerAs(SERVER_CONFIG_KEY, () => config)],
        }),
      ],
      providers: [
        {
          provide: SERVER_CONFIG,
          useFactory: (configService: ConfigService) =>
            configService.getOrThrow<ServerConfig>(SERVER_CONFIG_KEY),
          inject: [ConfigService],
        },
      ],
      exports: [SERVER_CONFIG],
    };
  }
}
