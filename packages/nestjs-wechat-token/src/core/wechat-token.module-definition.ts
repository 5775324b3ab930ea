import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { WechatTokenModuleOptions } from './wechat-token.options.js';

/** Extras of `forRoot` / `forRootAsync` beyond the options themselves. */
export interface WechatTokenModuleExtras {
  /** Register the module globally, so other modules need not import it. Default false. */
  isGlobal: boolean;
}

export const {
  ConfigurableModuleClass: ConfigurableWechatTokenModule,
  MODULE_OPTIONS_TOKEN: WECHAT_TOKEN_MODULE_OPTIONS,
  OPTIONS_TYPE: WECHAT_TOKEN_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: WECHAT_TOKEN_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<WechatTokenModuleOptions>()
  .setClassMethodName('forRoot')
  .setExtras<WechatTokenModuleExtras>({ isGlobal: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();

/** Injection token of the options with defaults applied (`ResolvedWechatTokenOptions`). */
export const WECHAT_TOKEN_OPTIONS = Symbol('WECHAT_TOKEN_RESOLVED_OPTIONS');
