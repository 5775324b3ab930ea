import { Module } from '@nestjs/common';
import { JsapiConfigController } from './jsapi-config.controller.js';

/** The pages' `wx.config`: injects `WechatTokenService` (the token module is global in `AppModule`). */
@Module({
  controllers: [JsapiConfigController],
})
export class JsapiConfigModule {}
