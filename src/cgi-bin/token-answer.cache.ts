import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { WechatTokenService } from 'nestjs-wechat-token';

interface CachedPrefix {
  tokenId: string;
  /** `{"access_token":"…","expires_in":` */
  prefix: string;
}

/** A token answer, and which token it hands out (its row id in `access_token`). */
export interface TokenAnswer {
  body: string;
  tokenId: string;
}

/**
 * The WeChat answer `{"access_token","expires_in"}` of each account's shared
 * token, serialised once per token (dropped on `onTokenChange`); a request
 * only appends its `expires_in`.
 */
@Injectable()
export class TokenAnswerCache implements OnModuleDestroy {
  private readonly prefixes = new Map<string, CachedPrefix>();
  private readonly unsubscribe: () => void;

  constructor(private readonly tokens: WechatTokenService) {
    this.unsubscribe = tokens.onTokenChange((appId) => this.prefixes.delete(appId));
  }

  /** The answer for the account's current token. Throws what `getServedToken` throws. */
  async answer(appId: string): Promise<TokenAnswer> {
    const served = await this.tokens.getServedToken(appId);
    let cached = this.prefixes.get(appId);
    if (cached === undefined || cached.tokenId !== served.tokenId) {
      cached = {
        tokenId: served.tokenId,
        prefix: `{"access_token":${JSON.stringify(served.accessToken)},"expires_in":`,
      };
      this.prefixes.set(appId, cached);
    }
    return { body: `${cached.prefix}${served.expiresIn}}`, tokenId: served.tokenId };
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }
}
