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

/** A subscriber of `WechatTokenService.onEvent()`. */
export type WechatTokenEventListener = (event: WechatTokenEvent) => void;

/**
 * The module's event bus: synchronous, in-process, and never in the way.
 * A listener that throws is logged (once per listener) and kept; nothing it
 * does can fail a refresh.
 */
@Injectable()
export class WechatTokenEvents {
  private readonly logger = new Logger('WechatTokenEvents');
  private readonly listeners = new Set<WechatTokenEventListener>();
  private readonly failed = new WeakSet<WechatTokenEventListener>();

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: WechatTokenEventListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(event: WechatTokenEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        if (this.failed.has(listener)) continue;
        this.failed.add(listener);
        this.logger.error(
          `An event listener threw (${error instanceof Error ? error.message : String(error)}); ` +
            'it stays subscribed, and is not reported again',
        );
      }
    }
  }
}
