import { Inject, Injectable } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import { WECHAT_TOKEN_OPTIONS, type ResolvedWechatTokenOptions } from 'nestjs-wechat-token';
import { sha256 } from '../common/sha256.js';

/**
 * The AppSecrets of the accounts this replica serves: SHA-256 digests, so a
 * client's secret is checked in constant time whatever its length, and the
 * secret itself, which the pass-through puts in place of a client key on a
 * call that needs it (`/sns/jscode2session`): the library holds it in memory
 * anyway to fetch tokens. The accounts of `WECHAT_ACCOUNTS` from the start;
 * those of the admin API as the `AccountRegistry` reads them (`set` / `delete`).
 */
@Injectable()
export class AccountSecrets {
  private readonly digests = new Map<string, Buffer>();
  private readonly secrets = new Map<string, string>();

  constructor(@Inject(WECHAT_TOKEN_OPTIONS) options: ResolvedWechatTokenOptions) {
    for (const account of options.accounts) this.set(account.appId, account.secret);
  }

  /** Whether the appId is an account this replica serves (a disabled one is not). */
  has(appId: string): boolean {
    return this.digests.has(appId);
  }

  /** Whether `secret` is the account's AppSecret (false for an unknown account). */
  matches(appId: string, secret: string): boolean {
    const expected = this.digests.get(appId);
    return expected !== undefined && timingSafeEqual(sha256(secret), expected);
  }

  /** The account's AppSecret, to send to WeChat only (never in an answer or a log line). */
  secretOf(appId: string): string | undefined {
    return this.secrets.get(appId);
  }

  /** Serves `appId` with this AppSecret from now on. */
  set(appId: string, secret: string): void {
    this.digests.set(appId, sha256(secret));
    this.secrets.set(appId, secret);
  }

  /** Stops serving `appId`. */
  delete(appId: string): void {
    this.digests.delete(appId);
    this.secrets.delete(appId);
  }
}
