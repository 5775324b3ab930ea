// The public API of nestjs-wechat-token. Internals stay out of this list.
export { WechatTokenModule } from './core/wechat-token.module.js';
export { WechatTokenService } from './core/wechat-token.service.js';
export type {
  AccountStatus,
  LastError,
  RefreshAction,
  RefreshResult,
  ServedToken,
  TokenRisk,
} from './core/wechat-token.service.js';
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
  RefreshRefusedError,
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
export { TOKEN_STORE, LockBusyError } from './core/token-store.js';
export type { StoredToken, TokenSource, TokenStore } from './core/token-store.js';
export { CLOCK } from './core/clock.js';
export type { Clock } from './core/clock.js';
export { isStaleTokenAnswer, STALE_TOKEN_ERRCODES } from './core/stale-token.js';
export { mask } from './core/mask.js';
export { WECHAT_TOKEN_MIGRATIONS } from './migrations/index.js';
