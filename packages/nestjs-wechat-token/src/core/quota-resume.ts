import { Inject, Injectable, Logger } from '@nestjs/common';
import { CLOCK, type Clock } from './clock.js';
import { CredentialEngine } from './credential-engine.js';
import { CredentialRefresher, type RefreshOutcome } from './credential-refresher.js';
import type { CredentialState } from './credential-state.js';
import { RETRY_AFTER_TROUBLE_MS } from './credential-state.js';
import { MESSAGES } from './messages.js';
import { quotaResumeDecision } from './refresh-decisions.js';
import { classifyFailure, quotaDayStart } from './refresh-policy.js';
import { LockBusyError, QUOTA_RESET_BY_MAX_LENGTH, TOKEN_STORE, type TokenStore } from './token-store.js';
import {
  describeError,
  RefreshRefusedError,
  TokenStoreUnavailableError,
  WechatTokenError,
  WechatTokenSetupError,
} from './wechat-token.errors.js';
import { WECHAT_TOKEN_OPTIONS } from './wechat-token.module-definition.js';
import type { ResolvedWechatTokenOptions } from './wechat-token.options.js';

const SECOND = 1000;

/**
 * An operator's quota resume (`WechatTokenService.resumeQuota`): after the
 * account's quota was cleared at WeChat (`clear_quota`), fetching goes on
 * before midnight Asia/Shanghai. The reset is recorded in the table
 * (`token_quota_reset`), so it holds for every replica and across restarts:
 * the quota day of the account's token and tickets counts from it. Then the
 * credentials that are due are refreshed at once, through the normal cluster
 * lock (one fetch for the cluster). Other replicas lift their own quota block
 * when they read the reset (NOTIFY, or the periodic re-read). A resume that
 * finds the quota blocking again soon after the last one (within the larger
 * of `forceRefreshMinIntervalSeconds` and 30 s) is refused, so resumes cannot
 * hammer WeChat even with a minimum interval of 0.
 */
@Injectable()
export class QuotaResumer {
  private readonly logger = new Logger('WechatTokenService');

  constructor(
    @Inject(TOKEN_STORE) private readonly store: TokenStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(WECHAT_TOKEN_OPTIONS) private readonly options: ResolvedWechatTokenOptions,
    private readonly refresher: CredentialRefresher,
    private readonly engine: CredentialEngine,
  ) {}

  /**
   * Resumes the account whose credentials are `states` (its access_token
   * first). Records a reset only when the quota holds one of them back now;
   * returns whether it did. `by` is kept with it, cut to its first
   * `QUOTA_RESET_BY_MAX_LENGTH` characters. Throws `RefreshRefusedError`
   * (`min_interval`) when the quota blocks again less than the larger of
   * `forceRefreshMinIntervalSeconds` and `QUOTA_RESUME_MIN_INTERVAL_SECONDS`
   * (30 s) after the last reset, `lock_busy` when another replica holds a
   * lock too long and no other credential's decided the reset,
   * `WechatTokenSetupError` (`quota_resets_unsupported`) when the store
   * cannot record resets, and `TokenStoreUnavailableError` without a database.
   */
  async resume(states: readonly CredentialState[], by: string | null): Promise<{ resumed: boolean }> {
    const resetBy = by === null ? null : cutToCharacters(by, QUOTA_RESET_BY_MAX_LENGTH);
    let resetAt: number | undefined;
    let busy: RefreshRefusedError | undefined;
    // One reset is the account's (WeChat's clear_quota resets all its quotas): the first
    // credential held back records it, and the others are no longer held back by it.
    for (const state of states) {
      try {
        resetAt = await this.resetIfBlocked(state, resetBy);
      } catch (error) {
        // Another replica is refreshing this credential: whether the quota holds it back is
        // unknown, but another credential held back may record the reset (it is the account's).
        if (!(error instanceof RefreshRefusedError && error.reason === 'lock_busy')) throw error;
        busy ??= error;
        continue;
      }
      if (resetAt !== undefined) break;
    }
    if (resetAt === undefined) {
      if (busy) throw busy;
      return { resumed: false };
    }
    this.logger.log(
      `${states[0].appId}: quota resumed${resetBy === null ? '' : ` by ${resetBy}`}; the quota day counts from ${new Date(resetAt).toISOString()}`,
    );
    for (const state of states) state.quotaReset(resetAt);
    // The token first: the tickets are fetched with it.
    for (const state of states) await this.refreshNow(state);
    return { resumed: true };
  }

  /** Under the credential's lock: records a quota reset if the quota holds it back now; returns its time. */
  private async resetIfBlocked(state: CredentialState, by: string | null): Promise<number | undefined> {
    const { appId } = state;
    const key = { appId, kind: state.spec.kind };
    try {
      return await this.store.withCredentialLock(key, this.refresher.lockWaitMs, async (locked) => {
        const now = this.clock.now();
        const summary = await locked.summary(new Date(quotaDayStart(now)), new Date(now));
        const decision = quotaResumeDecision({ appId, kind: key.kind, now }, summary, this.options);
        if (decision === 'not_blocked') return undefined;
        if (decision instanceof RefreshRefusedError) throw decision;
        if (!locked.recordQuotaReset) {
          throw new WechatTokenSetupError('quota_resets_unsupported', MESSAGES.quotaStoreUnsupported());
        }
        const at = await locked.recordQuotaReset({
          at: new Date(now),
          by,
          instanceId: this.options.instanceId,
        });
        return at.getTime();
      });
    } catch (error) {
      if (error instanceof WechatTokenError) throw error;
      if (error instanceof LockBusyError) {
        const message = MESSAGES.lockBusy(appId, state.spec.label);
        throw new RefreshRefusedError(appId, 'lock_busy', RETRY_AFTER_TROUBLE_MS / SECOND, message);
      }
      throw new TokenStoreUnavailableError(describeError(error));
    }
  }

  /**
   * The refresh the quota held back, now: what is due is fetched (a held
   * value that is not is kept). If WeChat answers 45009 again (the quota was
   * not cleared there), one more pass through the lock, which calls nobody,
   * blocks the credential again until midnight, so the answer says so.
   */
  private async refreshNow(state: CredentialState): Promise<void> {
    const refresh = async (): Promise<RefreshOutcome | undefined> => {
      // A pass under way was decided before the reset: ours comes after it.
      if (state.inflight) await state.inflight.catch(() => undefined);
      return this.engine.joinOrStartRefresh(state, { source: 'schedule', force: false });
    };
    try {
      const outcome = await refresh();
      const errcode = outcome?.failure?.errcode;
      if (errcode !== undefined && classifyFailure(errcode, state.spec.kind) === 'quota') await refresh();
    } catch (error) {
      // A ticket without a token to fetch it with, the database gone…: the status tells.
      this.logger.warn(`${state.appId}: refresh after the quota resume failed: ${describeError(error)}`);
    }
  }
}

/** `text` cut to its first `max` characters (code points, as Postgres counts a varchar's length). */
function cutToCharacters(text: string, max: number): string {
  if (text.length <= max) return text;
  return Array.from(text).slice(0, max).join('');
}
