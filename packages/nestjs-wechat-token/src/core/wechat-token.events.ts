import { Injectable, Logger } from '@nestjs/common';
import type { CredentialKind, FetchEndpoint } from './credential.js';
import type { AttemptOutcome, TokenSource } from './token-store.js';

/**
 * One call this replica made to WeChat, when its outcome is known here (or
 * given up): `outcome` as the fetch log records it (`ok`, `unchanged`,
 * `errcode`, or how the transport failed: `timeout`, `network`, `http`,
 * `body`, `not_sent`).
 */
export interface UpstreamCallEvent {
  type: 'upstream_call';
  appId: string;
  kind: CredentialKind;
  /** The endpoint called, as the fetch log (`token_fetch_attempt.endpoint`) names it: `token`, `stable_token`, `getticket`. */
  endpoint: FetchEndpoint;
  source: TokenSource;
  outcome: AttemptOutcome;
  /** WeChat's errcode when it answered one (`outcome: 'errcode'`), -1 for a transport failure, else null. */
  errcode: number | null;
  durationMs: number;
}

/**
 * One pass through a credential's cluster lock (a refresh this replica ran):
 * how long it waited for the lock and how long the whole pass took (the
 * wait included).
 * `result`: `fetched` (a new row), `unchanged` (WeChat handed back the one
 * held), `not_needed` (another replica had done it), `refused` (quota,
 * backoff, interval), `failed` (WeChat or the transport failed),
 * `lock_busy` (another replica held the lock too long), `store_error`
 * (the database failed).
 */
export interface RefreshEvent {
  type: 'refresh';
  appId: string;
  kind: CredentialKind;
  source: TokenSource;
  result: 'fetched' | 'unchanged' | 'not_needed' | 'refused' | 'failed' | 'lock_busy' | 'store_error';
  /** From the request for the lock until it was held; null when it was never held. */
  lockWaitMs: number | null;
  durationMs: number;
}

/**
 * A caller reported a token as stale (`refresh(appId, { staleToken })`, a
 * compatible client's forced refresh, `withAccessToken`'s retry) and what
 * the check found: it `still_works`, was `already_replaced`, is `dead`
 * (replaced), or the check at WeChat failed (`unknown`).
 */
export interface StaleReportEvent {
  type: 'stale_report';
  appId: string;
  verdict: 'still_works' | 'already_replaced' | 'dead' | 'unknown';
}

/** What the module tells observers (metrics, say): never a token, ticket or secret. */
export type WechatTokenEvent = UpstreamCallEvent | RefreshEvent | StaleReportEvent;

/**
 * A subscriber of `WechatTokenService.onEvent()`. Called synchronously, after
 * the refresh's lock is released; a promise it returns is not awaited (a
 * rejection is logged, never left unhandled).
 */
export type WechatTokenEventListener = (event: WechatTokenEvent) => unknown;

/** How often one failing listener is reported. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

/**
 * The module's event bus: synchronous, in-process, and never in the way.
 * A listener that throws or rejects is logged (at most once a minute per
 * listener) and kept; nothing it does can fail a refresh or end the process.
 */
@Injectable()
export class WechatTokenEvents {
  private readonly logger = new Logger('WechatTokenEvents');
  private readonly listeners = new Set<WechatTokenEventListener>();
  /** When each failing listener was last reported. */
  private readonly reportedAt = new WeakMap<WechatTokenEventListener, number>();

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: WechatTokenEventListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(event: WechatTokenEvent): void {
    // A copy: a listener that subscribes another is not called with this event.
    for (const listener of [...this.listeners]) {
      try {
        const returned = listener(event);
        if (returned instanceof Promise) returned.catch((error: unknown) => this.report(listener, error));
      } catch (error) {
        this.report(listener, error);
      }
    }
  }

  private report(listener: WechatTokenEventListener, error: unknown): void {
    const now = Date.now();
    if (now - (this.reportedAt.get(listener) ?? -Infinity) < FAILURE_LOG_INTERVAL_MS) return;
    this.reportedAt.set(listener, now);
    this.logger.error(
      `An event listener failed (${error instanceof Error ? error.message : String(error)}); ` +
        'it stays subscribed (reported at most once a minute)',
    );
  }
}
