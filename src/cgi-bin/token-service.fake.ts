import type { LastError, ServedToken, WechatTokenService } from 'nestjs-wechat-token';

/**
 * The part of `WechatTokenService` the HTTP layer uses, in memory, for unit
 * specs: set `token` (or `unavailable`), and see `refreshes` and `served`.
 */
export class FakeTokenService {
  token: ServedToken | undefined = { accessToken: 'ACCESS_TOKEN_0000000001', expiresIn: 6870, tokenId: '1' };
  /** Thrown by `getServedToken` when set. */
  unavailable: Error | undefined;
  /** Thrown by `refresh` when set. */
  refreshError: Error | undefined;
  readonly lastErrors = new Map<string, LastError>();
  readonly usable = new Map<string, boolean>();
  refreshes = 0;
  served = 0;
  private readonly listeners = new Set<(appId: string) => void>();

  constructor(readonly appIds: string[] = ['wx1234567890abcdef']) {}

  async getServedToken(_appId?: string): Promise<ServedToken> {
    this.served++;
    if (this.unavailable) throw this.unavailable;
    return { ...this.token! };
  }

  async refresh(appId: string): Promise<unknown> {
    if (this.refreshError) throw this.refreshError;
    this.refreshes++;
    const id = String(Number(this.token!.tokenId) + 1);
    this.token = { accessToken: `ACCESS_TOKEN_${id.padStart(10, '0')}`, expiresIn: 6900, tokenId: id };
    for (const listener of this.listeners) listener(appId);
    return {};
  }

  onTokenChange(listener: (appId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  hasUsableToken(appId: string): boolean {
    return this.usable.get(appId) ?? true;
  }

  lastError(appId: string): LastError | undefined {
    return this.lastErrors.get(appId);
  }

  /** This fake typed as the service. */
  asService(): WechatTokenService {
    return this as unknown as WechatTokenService;
  }
}
