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
 *
 * And it answers WeChat APIs that use the token (`getcallbackip`,
 * `message/custom/send`, `media/upload`, `media/get`, `/sns/*`), logging the
 * token and headers each call arrived with:
 *
 * ```ts
 * expect(sandbox.apiCalls().at(-1)).toMatchObject({ path: '/cgi-bin/getcallbackip', accessToken: token });
 * expect(sandbox.upload(mediaId)?.sha256).toBe(sha256OfTheBodySent);
 * expect(sha256OfTheDownload).toBe(expectedMediaSha256(20 * 1024 * 1024)); // media_id=bytes-20971520
 * ```
 */
export { WechatSandbox } from './wechat-sandbox.js';
export { DEFAULT_SANDBOX_SETTINGS } from './sandbox-settings.js';
export { expectedMediaSha256 } from './sandbox-media.js';
export type {
  SandboxAccount,
  SandboxApiCall,
  SandboxApiCallsReport,
  SandboxAppStats,
  SandboxCallRecord,
  SandboxEndpoint,
  SandboxEndpointStats,
  SandboxFault,
  SandboxFaultEndpoint,
  SandboxJsapiConfig,
  SandboxJsapiConfigResult,
  SandboxListenOptions,
  SandboxMediaType,
  SandboxRecordedHeader,
  SandboxSentMessage,
  SandboxStats,
  SandboxTicketCallRecord,
  SandboxTicketLife,
  SandboxTicketState,
  SandboxTicketStateReport,
  SandboxTicketStats,
  SandboxTicketType,
  SandboxTokenLife,
  SandboxTokenState,
  SandboxUpload,
  WechatSandboxOptions,
  WechatSandboxSettings,
} from './wechat-sandbox.types.js';
/**
 * The module's refresh check. A test that parks the cron (`refreshCron` far
 * in the future) runs one check with `app.get(RefreshScheduler).tick()`.
 */
export { RefreshScheduler } from '../core/refresh.scheduler.js';
