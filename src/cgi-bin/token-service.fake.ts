import {
  InvalidTicketTypeError,
  isTicketType,
  TicketNotConfiguredError,
  UnknownAccountError,
  type IssuedAccessToken,
  type LastError,
  type ServedTicket,
  type ServedToken,
  type TicketType,
  type WechatTokenService,
} from 'nestjs-wechat-token';

/**
 * The part of `WechatTokenService` the HTTP layer uses, in memory, for unit
 * specs: set `token` (or `unavailable`), `ticket` (or `ticketUnavailable`)
 * and the `ticketKinds` kept, and see `refreshes`, `served` and `ticketsServed`.
 */
export class FakeTokenService {
  token: ServedToken | undefined = { accessToken: 'ACCESS_TOKEN_0000000001', expiresIn: 6870, tokenId: '1' };
  ticket: ServedTicket = { ticket: 'TICKET_0000000001', expiresIn: 6800, ticketId: '1' };
  /** Thrown by `getServedTicket` when set. */
  ticketUnavailable: Error | undefined;
  /** The ticket types each account keeps (none when absent). */
  readonly ticketKinds = new Map<string, TicketType[]>();
  ticketsServed = 0;
  /** Thrown by `getServedToken` when set. */
  unavailable: Error | undefined;
  /** Thrown by `refresh` when set. */
  refreshError: Error | undefined;
  readonly lastErrors = new Map<string, LastError>();
  readonly usable = new Map<string, boolean>();
  refreshes = 0;
  served = 0;
  /** Older tokens the center issued, by value → account (`issuedAccessToken`); the current one is known anyway. */
  readonly issued = new Map<string, string>();
  /** Thrown by `issuedAccessToken` for a token it does not hold, when set (the table is unreachable). */
  issuedLookupError: Error | undefined;
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

  /** The account whose current token `accessToken` is (the fake holds one token for all). */
  accountOfAccessToken(accessToken: string): string | undefined {
    return this.token && accessToken === this.token.accessToken ? this.appIds[0] : undefined;
  }

  /** The account and row of a token the fake issued: the current one, or one of `issued`. */
  async issuedAccessToken(accessToken: string): Promise<IssuedAccessToken | undefined> {
    if (this.token && accessToken === this.token.accessToken) {
      return { appId: this.appIds[0], tokenId: this.token.tokenId, current: true };
    }
    const appId = this.issued.get(accessToken);
    if (appId !== undefined) return { appId, tokenId: '0', current: false };
    if (this.issuedLookupError) throw this.issuedLookupError;
    return undefined;
  }

  ticketTypes(appId: string): TicketType[] {
    if (!this.appIds.includes(appId)) throw new UnknownAccountError(appId);
    return this.ticketKinds.get(appId) ?? [];
  }

  async getServedTicket(appId: string, type: TicketType): Promise<ServedTicket> {
    if (!isTicketType(type)) throw new InvalidTicketTypeError(String(type));
    if (!this.ticketTypes(appId).includes(type)) throw new TicketNotConfiguredError(appId, type);
    this.ticketsServed++;
    if (this.ticketUnavailable) throw this.ticketUnavailable;
    return { ...this.ticket };
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
