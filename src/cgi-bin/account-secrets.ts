import { Inject, Injectable } from '@nestjs/common';
import { hash, timingSafeEqual } from 'node:crypto';
import { WECHAT_TOKEN_OPTIONS, type ResolvedWechatTokenOptions } from 'nestjs-wechat-token';

/** One-shot SHA-256 (`crypto.hash`: a third of the cost of a `createHash` object, on the hot path). */
function sha256(value: string): Buffer {
  return hash('sha256', value, 'buffer');
}

/**
 * The configured accounts' AppSecrets, kept only as SHA-256 digests, so a
 * client's secret is checked in constant time whatever its length.
 */
@Injectable()
export class AccountSecrets {
  private readonly digests = new Map<string, Buffer>();

  constructor(@Inject(WECHAT_TOKEN_OPTIONS) options: ResolvedWechatTokenOptions) {
    for (const account of options.accounts) this.digests.set(account.appId, sha256(account.secret));
  }

  /** Whether the appId is a configured account. */
  has(appId: string): boolean {
    return this.digests.has(appId);
  }

  /** Whether `secret` is the account's AppSecret (false for an unknown account). */
  matches(appId: string, secret: string): boolean {
    const expected = this.digests.get(appId);
    return expected !== undefined && timingSafeEqual(sha256(secret), expected);
  }
}
