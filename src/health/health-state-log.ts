import { Logger } from '@nestjs/common';
import type { HealthCheckResult } from '@nestjs/terminus';
import type { AccountHealth } from './wechat-token.health.js';

/** A failure that lasts is logged again after this long. */
export const HEALTH_LOG_REPEAT_MS = 60_000;
/**
 * No failure line closer than this to the line before, whatever flaps: a
 * state that changes at every request must not flood the log.
 */
export const HEALTH_LOG_MIN_GAP_MS = 10_000;
/** Accounts named in one line at most; the rest are counted. */
const ACCOUNTS_NAMED = 10;

/** The line a readiness check calls for: the failure (new or changed), a reminder, the recovery. */
export type HealthLogLine = 'failing' | 'still_failing' | 'recovered';

/** The last line written. */
export interface HealthLogMemory {
  failing: boolean;
  /** What was failing (component classes, accounts and their errcodes), to see a change. */
  signature: string;
  at: number;
}

/**
 * Which line, if any, a check that found `observed` at `now` calls for, after
 * `last`: a failure is logged when it starts or changes, then at most once
 * every `HEALTH_LOG_REPEAT_MS` while it lasts; a recovery once, at once. A
 * failure line comes at least `HEALTH_LOG_MIN_GAP_MS` after the line before
 * (a change held back is logged by the first check after the gap, if it still
 * holds): a state flapping at every request writes two lines per gap at most.
 */
export function nextHealthLogLine(
  last: HealthLogMemory | undefined,
  observed: { failing: boolean; signature: string },
  now: number,
): HealthLogLine | undefined {
  if (observed.failing) {
    if (last && now - last.at < HEALTH_LOG_MIN_GAP_MS) return undefined;
    if (!last?.failing || last.signature !== observed.signature) return 'failing';
    return now - last.at >= HEALTH_LOG_REPEAT_MS ? 'still_failing' : undefined;
  }
  return last?.failing ? 'recovered' : undefined;
}

/** One account without a usable token, as the log names it. */
interface UnusableAccount {
  appId: string;
  lastError?: AccountHealth['lastError'];
}

/** What a readiness result says is down, for the log. */
export function describeFailure(result: HealthCheckResult): {
  failing: boolean;
  /**
   * Whether the only thing missing is first tokens still being fetched (no
   * account down has an error yet, nothing else is down): a replica just
   * started is not ready for a moment, and that is no error.
   */
  starting: boolean;
  signature: string;
  text: string;
} {
  const down = Object.entries(result.details)
    .filter(([, detail]) => detail.status === 'down')
    .map(([component]) => component)
    .sort();
  const accounts = unusableAccounts(result);
  const parts = down.map((component) => {
    const detail = result.details[component] as { message?: unknown };
    if (component === 'wechat_accounts') return `wechat_accounts down (${describeAccounts(accounts)})`;
    return typeof detail.message === 'string' ? `${component} down (${detail.message})` : `${component} down`;
  });
  const signature = [
    down.join(','),
    accounts.map(({ appId, lastError }) => `${appId}:${lastError?.errcode ?? ''}`).join(','),
  ].join('|');
  const starting =
    down.length === 1 && down[0] === 'wechat_accounts' && accounts.every(({ lastError }) => !lastError);
  return { failing: down.length > 0, starting, signature, text: parts.join('; ') };
}

function unusableAccounts(result: HealthCheckResult): UnusableAccount[] {
  const detail = result.details.wechat_accounts as { accounts?: Record<string, AccountHealth> } | undefined;
  return Object.entries(detail?.accounts ?? {})
    .filter(([, account]) => !account.usable)
    .map(([appId, account]) => ({ appId, lastError: account.lastError }))
    .sort((a, b) => a.appId.localeCompare(b.appId));
}

function describeAccounts(accounts: UnusableAccount[]): string {
  const named = accounts
    .slice(0, ACCOUNTS_NAMED)
    .map(({ appId, lastError }) =>
      lastError ? `${appId}: errcode ${lastError.errcode}, ${lastError.hint}` : `${appId}: no token yet`,
    );
  const more = accounts.length - named.length;
  const noun = accounts.length === 1 ? 'account' : 'accounts';
  return `${accounts.length} ${noun} without a usable token: ${named.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
}

/**
 * Logs the readiness of this replica on change of state, not per request
 * (anyone may call `/health`; issue 13: a line block per call flooded the
 * log): a failure when it starts or changes, naming the component classes
 * and the accounts, a reminder at most once a minute while it lasts, the
 * recovery once.
 */
export class HealthStateLog {
  private readonly logger = new Logger('Health');
  private last?: HealthLogMemory;
  /** When the failure last logged was first seen. */
  private failingSince?: number;

  /** Takes the result of one readiness check, made at `now`. */
  record(result: HealthCheckResult, now = Date.now()): void {
    const observed = describeFailure(result);
    const line = nextHealthLogLine(this.last, observed, now);
    if (!line) return;
    this.last = { failing: observed.failing, signature: observed.signature, at: now };
    switch (line) {
      case 'failing':
        this.failingSince ??= now;
        if (observed.starting) {
          this.logger.log(`Not ready yet: ${observed.text}.`);
          return;
        }
        this.logger.error(
          `Not ready: ${observed.text}. /health/ready answers 503 while this lasts (logged again at most once a minute).`,
        );
        return;
      case 'still_failing':
        // A first token that takes a minute is a problem, whatever the reason.
        this.logger.error(
          `Still not ready after ${seconds(now - (this.failingSince ?? now))}: ${observed.text}.`,
        );
        return;
      case 'recovered':
        this.logger.log(
          `Ready again after ${seconds(now - (this.failingSince ?? now))}: the database and every account are up.`,
        );
        this.failingSince = undefined;
        return;
    }
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}
