import type { CredentialKind, TicketType } from './credential.js';
import type { CredentialState, LastError, TokenRisk } from './credential-state.js';
import { mask } from './mask.js';
import { quotaDayStart } from './refresh-policy.js';
import type { TokenMode } from './wechat-token.options.js';

const SECOND = 1000;

/** What status shows of any credential (the access_token or a ticket). Never a full value. */
export interface CredentialStatus {
  /** Whether a value that is still valid is held. */
  usable: boolean;
  fetchedAt: string | null;
  expiresAt: string | null;
  /** Seconds the held value still lives (0 when none). */
  expiresIn: number;
  /** The `expires_in` a client is handed with it now: what WeChat is sure to honour (0: not handed out). */
  servedExpiresIn: number;
  /**
   * What shortens its life, cluster-wide: `unknown_fetch`, a call to WeChat
   * of unknown outcome may have replaced it (it is promised only until the
   * next fetch); `unsettled`, more calls of unknown outcome followed, so it
   * may be dead (not served); `reported_dead`, WeChat rejected it after a
   * stale report (not served); null when nothing does.
   */
  risk: TokenRisk | null;
  /** When the scheduled refresh is planned (ISO). */
  nextRefreshAt: string | null;
  /** While fetches are held back (backoff, quota, database down): until when, and why. */
  blockedUntil: string | null;
  blockedReason: string | null;
  lastError: LastError | null;
  /** Calls to WeChat for it since midnight Asia/Shanghai, all replicas (null while the database is down). */
  upstreamCallsToday: number | null;
  dailyQuota: number;
  /**
   * When the account's quota was last resumed today (`resumeQuota()`, after
   * clearing it at WeChat), as this replica knows (ISO); null when not
   * today. The quota counts the calls made since then; `upstreamCallsToday`
   * still counts from midnight.
   */
  quotaResumedAt: string | null;
}

/** One account's state, as the admin API and `status()` show it. Never holds a full token or ticket. */
export interface AccountStatus extends CredentialStatus {
  appId: string;
  mode: TokenMode;
  /** The token, masked to its first and last 4 characters. */
  token: string | null;
  tokenId: string | null;
  /** The tickets the account keeps (none unless configured). */
  tickets: TicketStatus[];
}

/** One ticket of an account, as status shows it. */
export interface TicketStatus extends CredentialStatus {
  type: TicketType;
  /** The ticket, masked to its first and last 4 characters. */
  ticket: string | null;
  ticketId: string | null;
}

/** The status fields every credential shares, read from its state at `now`. */
export function credentialStatus(
  state: CredentialState,
  now: number,
  upstreamCallsToday: number | null,
  dailyQuota: number,
): CredentialStatus & { masked: string | null; id: string | null } {
  const row = state.current;
  const blocked = state.nextAttemptAtMs > now && state.blockedReason;
  return {
    masked: mask(row?.value),
    id: row?.id ?? null,
    usable: state.isUsable(now),
    fetchedAt: row?.fetchedAt.toISOString() ?? null,
    expiresAt: row?.expiresAt.toISOString() ?? null,
    expiresIn: row ? Math.max(0, Math.floor((state.expiresAtMs - now) / SECOND)) : 0,
    servedExpiresIn: Math.max(0, state.servedSeconds(now)),
    risk: state.risk(),
    nextRefreshAt: row ? new Date(Math.max(state.dueAt(), state.nextAttemptAtMs)).toISOString() : null,
    blockedUntil: blocked ? new Date(state.nextAttemptAtMs).toISOString() : null,
    blockedReason: blocked ? state.blockedReason! : null,
    lastError: state.lastError ?? null,
    upstreamCallsToday,
    dailyQuota,
    quotaResumedAt:
      state.quotaResetAtMs >= quotaDayStart(now) ? new Date(state.quotaResetAtMs).toISOString() : null,
  };
}

/**
 * A credential as this replica holds it, from memory only (no database
 * call): what metrics read at every scrape. Never holds a value.
 */
export interface HeldCredential {
  appId: string;
  kind: CredentialKind;
  /** The `expires_at` WeChat gave the value held; null while none is held. */
  expiresAt: Date | null;
  /** Seconds until `expiresAt` on the cluster clock (0 when none is held or it has passed). */
  expiresIn: number;
  /** The `expires_in` a client is handed with it now: what WeChat is sure to honour (0: not handed out). */
  servedExpiresIn: number;
  /** Whether the value may be used now. */
  usable: boolean;
}

/** What `heldCredentials()` tells of one credential at `now`. */
export function heldCredential(state: CredentialState, now: number): HeldCredential {
  const row = state.current;
  return {
    appId: state.appId,
    kind: state.spec.kind,
    expiresAt: row?.expiresAt ?? null,
    expiresIn: row ? Math.max(0, Math.floor((state.expiresAtMs - now) / SECOND)) : 0,
    servedExpiresIn: Math.max(0, state.servedSeconds(now)),
    usable: state.isUsable(now),
  };
}
