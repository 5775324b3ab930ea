import type { TokenSource } from './token-store.js';
import { WECHAT_TICKET_TYPES, type WechatTicketType } from './wechat-protocol.js';
import type { ResolvedWechatAccount, TokenMode } from './wechat-token.options.js';

/**
 * The credentials the module keeps per account: the access_token, and the
 * tickets fetched with it. One engine keeps them all with the same
 * guarantees; a `CredentialSpec` says how each kind is fetched.
 */

/** The ticket types of `GET /cgi-bin/ticket/getticket`: JS-SDK (`jsapi`) and card (`wx_card`). */
export type TicketType = WechatTicketType;

/** Every ticket type, in the order status and docs list them. */
export const TICKET_TYPES: readonly TicketType[] = WECHAT_TICKET_TYPES;

/** What is kept: the access_token, or one ticket type. */
export type CredentialKind = 'access_token' | TicketType;

/** One credential of one account. */
export interface CredentialKey {
  appId: string;
  kind: CredentialKind;
}

/** The map key of a credential (the access_token's is its appId, as before tickets). */
export function keyString(appId: string, kind: CredentialKind): string {
  return kind === 'access_token' ? appId : `${appId}#${kind}`;
}

export function isTicketType(value: unknown): value is TicketType {
  return value === 'jsapi' || value === 'wx_card';
}

/** One row of a credential's history (`access_token` or `wechat_ticket`): a value as WeChat issued it. */
export interface StoredCredential {
  /** Row id (bigint as a string); ids grow with every insert of the table, so a larger id is newer. */
  id: string;
  appId: string;
  kind: CredentialKind;
  /** The token or ticket. */
  value: string;
  fetchedAt: Date;
  expiresAt: Date;
  source: TokenSource;
  /** How the access_token was fetched; tickets live by the `token` rules (`getticket` kills like `/cgi-bin/token`). */
  mode: TokenMode;
  instanceId: string | null;
  /** When WeChat was seen rejecting it after a stale report (then never served); null while not. */
  reportedDeadAt: Date | null;
}

/** A credential as WeChat handed it out. */
export interface FetchedCredential {
  value: string;
  expiresIn: number;
}

/** What one fetch needs beyond the account. */
export interface FetchContext {
  /** A stable_token `force_refresh`. */
  forceRefresh: boolean;
  /** Tickets: the access_token to fetch with. */
  accessToken?: string | undefined;
}

/** The WeChat endpoint a fetch calls, as the fetch log records it. */
export type FetchEndpoint = 'token' | 'stable_token' | 'getticket';

/**
 * How one kind of credential is fetched and what its answer means: the only
 * part of the engine that differs between the access_token and the tickets.
 */
export interface CredentialSpec {
  readonly kind: CredentialKind;
  /** What the credential is called in log lines and messages. */
  readonly label: string;
  /** The endpoint a fetch for this account calls. */
  endpoint(account: ResolvedWechatAccount): FetchEndpoint;
  /** The rules of the values it fetches now: `stable` (stable_token) or `token` (a fetch kills the one before last); each row keeps its own (`mode`). */
  lifeMode(account: ResolvedWechatAccount): TokenMode;
  /** Whether a fetch needs the account's access_token (tickets do). */
  readonly needsAccessToken: boolean;
  /** One call to WeChat; throws `WechatApiError` / `WechatTransportError`. */
  fetch(account: ResolvedWechatAccount, context: FetchContext): Promise<FetchedCredential>;
}
