// The public API of nestjs-wechat-token. Internals stay out of this list.
export { WechatTokenModule } from './core/wechat-token.module.js';
export { WechatTokenService } from './core/wechat-token.service.js';
export type {
  AccountStatus,
  CredentialStatus,
  HeldCredential,
  IssuedAccessToken,
  JsapiSignature,
  LastError,
  QuotaResumeResult,
  RefreshAction,
  RefreshResult,
  ServedTicket,
  ServedToken,
  TicketRefreshResult,
  TicketStatus,
  TokenRisk,
} from './core/wechat-token.service.js';
export type {
  RefreshEvent,
  StaleReportEvent,
  UpstreamCallEvent,
  WechatTokenEvent,
  WechatTokenEventListener,
} from './core/wechat-token.events.js';
export { TICKET_TYPES, isTicketType } from './core/credential.js';
export type { CredentialKind, FetchEndpoint, TicketType } from './core/credential.js';
export { WECHAT_TOKEN_OPTIONS } from './core/wechat-token.module-definition.js';
export type { WechatTokenModuleExtras } from './core/wechat-token.module-definition.js';
export { APP_ID_PATTERN, DEFAULT_OPTIONS, InvalidOptionsError } from './core/wechat-token.options.js';
export type {
  ResolvedWechatAccount,
  ResolvedWechatTokenOptions,
  TokenMode,
  WechatAccount,
  WechatTokenModuleOptions,
} from './core/wechat-token.options.js';
export {
  describeError,
  InvalidTicketTypeError,
  RefreshRefusedError,
  TicketNotConfiguredError,
  TokenStoreUnavailableError,
  TokenUnavailableError,
  UnknownAccountError,
  WechatApiError,
  WechatTokenError,
  WechatTokenSetupError,
  WechatTransportError,
} from './core/wechat-token.errors.js';
export type { RefreshRefusalReason, SetupProblem } from './core/wechat-token.errors.js';
export { AccessTokenEntity } from './core/access-token.entity.js';
export { TokenFetchAttemptEntity } from './core/token-fetch-attempt.entity.js';
export { WechatTicketEntity } from './core/wechat-ticket.entity.js';
export { TokenQuotaResetEntity } from './core/token-quota-reset.entity.js';
export { TOKEN_STORE, LockBusyError } from './core/token-store.js';
/**
 * Reading the fetch log (`token_fetch_attempt`): how the refresh policy treats
 * a failed call, by errcode (what retries, what waits, what needs an
 * operator), and how long a call without a recorded result may still be under way.
 */
export { classifyFailure } from './core/refresh-policy.js';
export type { FailureClass } from './core/refresh-policy.js';
export { callSettleMs, outcomeUnknown, SEND_DEADLINE_MS } from './core/token-life.js';
export type {
  AttemptOutcome,
  StoredTicket,
  StoredToken,
  TokenSource,
  TokenStore,
} from './core/token-store.js';
export { CLOCK } from './core/clock.js';
export type { Clock } from './core/clock.js';
export { isStaleTokenAnswer, STALE_TOKEN_ERRCODES } from './core/stale-token.js';
/**
 * WeChat's protocol: errcodes, errmsg texts (without the " rid: …" WeChat
 * appends), the 40164 text naming an IP, and what an operator should do
 * about a failed call (the `hint` of `lastError`, for a row of the fetch log).
 */
export {
  failureHint,
  invalidIpErrmsg,
  JSSDK_INVALID_SIGNATURE,
  WechatErrcode,
  wechatErrmsg,
  withRid,
} from './core/wechat-protocol.js';
/** JS-SDK signatures (`wx.config`) as pure functions: sign, check the inputs, diagnose a rejected one. */
export {
  diagnoseJsapiSignature,
  jsapiInputProblem,
  newNonceStr,
  signJsapi,
  urlWithoutFragment,
} from './core/jsapi-signature.js';
export type {
  JsapiInputProblem,
  JsapiSignatureDiagnosis,
  JsapiSignatureInput,
  JsapiSignatureMistake,
  JsapiTickets,
} from './core/jsapi-signature.js';
export { mask } from './core/mask.js';
/** Sealing values at rest (AES-256-GCM): the module's `encryptionKeys`, and a host's own secrets. */
export { SecretBox, SecretBoxError, secretKeyId } from './core/secret-box.js';
export type { SecretBoxKeys } from './core/secret-box.js';
export { resealStoredValues, storedKeyIds } from './core/postgres-token-store.js';
export { WECHAT_TOKEN_MIGRATIONS } from './migrations/index.js';
