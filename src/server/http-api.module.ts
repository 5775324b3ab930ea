import { Module } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { ServerConfig } from './config/server-config.js';

/** The server's HTTP API: admin REST, WeChat-compatible endpoints, health. (Being built.) */
@Module({})
export class HttpApiModule {}

/** App-level HTTP setup of the API (OpenAPI docs, error shapes). (Being built.) */
export function configureHttpApp(_app: NestFastifyApplication, _config: ServerConfig): void {}
