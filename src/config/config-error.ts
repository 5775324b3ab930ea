/**
 * A configuration value the server cannot start with. The message names the
 * variable and says what is wrong with it, in one line, and never holds a
 * secret: `WECHAT_ACCOUNTS: account "wx…" has no secret (expected appId:secret[:stable][:jsapi][:wx_card])`.
 */
export class ConfigError extends Error {
  /** Stable code, for callers that branch on it. */
  readonly code = 'CONFIG_INVALID';

  constructor(
    /** The environment variable at fault, e.g. `WECHAT_ACCOUNTS`. */
    readonly variable: string,
    /** What is wrong, and what is expected. */
    readonly problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}
