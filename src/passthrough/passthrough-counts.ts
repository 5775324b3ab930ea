import { Injectable } from '@nestjs/common';

/** How a passed-through call ended, as `/metrics` counts it. */
export type PassthroughOutcome =
  /** WeChat's answer reached the client (whatever its errcode). */
  | 'forwarded'
  /** Answered by the center itself: not allowlisted, a token it did not issue, a wrong secret… */
  | 'refused'
  /** The body was over `PASSTHROUGH_MAX_BODY_BYTES` (413). */
  | 'too_large'
  /** WeChat did not answer within `PASSTHROUGH_TIMEOUT_MS`. */
  | 'timeout'
  /** WeChat could not be reached, or the connection broke. */
  | 'upstream_error';

/** Every outcome, in the order `/metrics` lists them. */
export const PASSTHROUGH_OUTCOMES: readonly PassthroughOutcome[] = [
  'forwarded',
  'refused',
  'too_large',
  'timeout',
  'upstream_error',
];

/** How a stale token was healed on a passed-through call. */
export type HealKind =
  /** The client's token was not the account's current one: replaced before the call went to WeChat. */
  | 'replaced'
  /** WeChat rejected the token; it was replaced for the cluster and the call sent once more. */
  | 'replayed'
  /** WeChat rejected the token and the call was not sent again (its body was not kept, or no new token). */
  | 'not_replayed';

/**
 * The pass-through's counts, as plain numbers on the request path (read
 * by the metrics at scrape time, as `ServedCounts`): outcomes, and heals
 * per account.
 */
@Injectable()
export class PassthroughCounts {
  private readonly outcomes = new Map<PassthroughOutcome, number>();
  /** appId → kind → count. */
  private readonly heals = new Map<string, Map<HealKind, number>>();

  outcome(outcome: PassthroughOutcome): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }

  heal(appId: string, kind: HealKind): void {
    let kinds = this.heals.get(appId);
    if (!kinds) this.heals.set(appId, (kinds = new Map()));
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }

  /** Every outcome (0 included). */
  forEachOutcome(visit: (outcome: PassthroughOutcome, count: number) => void): void {
    for (const outcome of PASSTHROUGH_OUTCOMES) visit(outcome, this.outcomes.get(outcome) ?? 0);
  }

  /** Every heal counted so far, per account and kind. */
  forEachHeal(visit: (appId: string, kind: HealKind, count: number) => void): void {
    for (const [appId, kinds] of this.heals) for (const [kind, count] of kinds) visit(appId, kind, count);
  }
}
