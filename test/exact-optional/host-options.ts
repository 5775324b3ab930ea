// Compiled with `exactOptionalPropertyTypes` by test/module-bootstrap.e2e-spec.ts:
// a host hands the module values that may be undefined (from `config.get()`),
// meaning "the default".
import {
  WechatTokenModule,
  type ResolvedWechatTokenOptions,
  type TokenMode,
  type WechatAccount,
  type WechatTokenModuleExtras,
  type WechatTokenModuleOptions,
} from 'nestjs-wechat-token';

declare const text: string | undefined;
declare const count: number | undefined;
declare const flag: boolean | undefined;

const account: WechatAccount = { appId: 'wx1234567890abcdef', secret: 'secret', mode: undefined };

const options: WechatTokenModuleOptions = {
  accounts: [account],
  apiBaseUrl: text,
  refreshCron: text,
  refreshAheadSeconds: count,
  overlapSeconds: count,
  httpTimeoutMs: count,
  lateAnswerMs: count,
  dailyQuota: count,
  forceRefreshMinIntervalSeconds: count,
  resyncIntervalSeconds: count,
  concurrency: count,
  listen: flag,
  instanceId: text,
};

export const modules = [
  WechatTokenModule.forRoot({ ...options, isGlobal: flag, dataSource: text }),
  WechatTokenModule.forRootAsync({ useFactory: () => options, isGlobal: undefined, dataSource: text }),
];

// What the module hands back (`WECHAT_TOKEN_OPTIONS`) has every default filled in.
declare const resolved: ResolvedWechatTokenOptions;
export const resolvedValues: [string, number, boolean, TokenMode] = [
  resolved.apiBaseUrl,
  resolved.httpTimeoutMs,
  resolved.listen,
  resolved.accounts[0].mode,
];

/**
 * The optional keys of `T` that refuse `undefined`. Not `undefined extends
 * T[K]`: reading an optional field gives `undefined` whatever its declaration.
 */
type RefusingUndefined<T> = {
  [K in keyof T]-?: object extends Pick<T, K>
    ? { [P in K]: undefined } extends Pick<T, K>
      ? never
      : K
    : never;
}[keyof T];

// Also covers an optional field added later: the error names it.
export const everyOptionalFieldTakesUndefined: Record<
  | RefusingUndefined<WechatTokenModuleOptions>
  | RefusingUndefined<WechatAccount>
  | RefusingUndefined<WechatTokenModuleExtras>,
  never
> = {};
