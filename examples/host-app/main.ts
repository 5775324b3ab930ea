import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';

// DATABASE_URL, WECHAT_APP_ID, WECHAT_APP_SECRET (and WECHAT_API_BASE_URL, PORT) come from the environment or `.env`.
const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter());
app.enableShutdownHooks();
await app.listen(Number(process.env.PORT ?? 3001), '127.0.0.1');
console.log(`host app on ${await app.getUrl()}`);
