import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { WechatTokenService } from 'nestjs-wechat-token';

/** One account as the health check shows it: no token, no secret. */
export interface AccountHealth {
  usable: boolean;
  lastError?: { errcode: number; hint: string; at: string };
}

/**
 * Terminus indicator of the WeChat accounts: `up` when every account holds a
 * token that is still valid, `degraded` when it does but the last refresh of
 * some account failed (still 200: the token is served), `down` otherwise.
 * Reads memory only, so it answers even while the database is down.
 */
@Injectable()
export class WechatTokenHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly tokens: WechatTokenService,
  ) {}

  /** Checks the given accounts (default all) under `key`. */
  isHealthy<const Key extends string>(
    key: Key,
    appIds: readonly string[] = this.tokens.appIds,
  ): HealthIndicatorResult<Key> {
    const session = this.health.check(key);
    const accounts: Record<string, AccountHealth> = {};
    let usable = true;
    let failing = false;
    for (const appId of appIds) {
      const account: AccountHealth = { usable: this.tokens.hasUsableToken(appId) };
      const last = this.tokens.lastError(appId);
      if (last) account.lastError = { errcode: last.errcode, hint: last.hint, at: last.at };
      usable &&= account.usable;
      failing ||= last !== undefined;
      accounts[appId] = account;
    }
    if (!usable) return session.down({ accounts });
    return failing ? session.degraded({ accounts }) : session.up({ accounts });
  }
}
