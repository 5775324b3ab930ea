/**
 * `nestjs-wechat-token/testing`: a WeChat token API sandbox for your own tests.
 *
 * ```ts
 * const sandbox = new WechatSandbox({ accounts: [WechatSandbox.randomAccount()] });
 * const baseUrl = await sandbox.start(); // point the module's WeChat base URL here
 * // ...
 * await sandbox.stop();
 * ```
 *
 * It also issues JS-SDK tickets (`/cgi-bin/ticket/getticket`) and checks a
 * page's `wx.config` signature against them:
 *
 * ```ts
 * expect(sandbox.checkJsapiConfig({ appId, url, nonceStr, timestamp, signature })).toEqual({ ok: true });
 * ```
 */
export { WechatSandbox } from './wechat-sandbox.js';
export { DEFAULT_SANDBOX_SETTINGS } from './sandbox-settings.js';
export type {
  SandboxAccount,
  SandboxAppStats,
  SandboxCallRecord,
  SandboxEndpoint,
  SandboxEndpointStats,
  SandboxFault,
  SandboxFaultEndpoint,
  SandboxJsapiConfig,
  SandboxJsapiConfigResult,
  SandboxListenOptions,
  SandboxStats,
  SandboxTicketCallRecord,
  SandboxTicketLife,
  SandboxTicketState,
  SandboxTicketStateReport,
  SandboxTicketStats,
  SandboxTicketType,
  SandboxTokenLife,
  SandboxTokenState,
  WechatSandboxOptions,
  WechatSandboxSettings,
} from './wechat-sandbox.types.js';
/**
 * The module's refresh check. A test that parks the cron (`refreshCron` far
 * in the future) runs one check with `app.get(RefreshScheduler).tick()`.
 */
export { RefreshScheduler } from '../core/refresh.scheduler.js';
