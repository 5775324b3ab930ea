import { SEND_DEADLINE_MS } from 'nestjs-wechat-token';

/**
 * How long after its fetch-log row a call can still go out: a replica logs a
 * call (`attempted_at`) before it sends it, and gives it up unsent (outcome
 * `not_sent`) once this has passed (the library's send deadline).
 */
export { SEND_DEADLINE_MS };

/** A token-issuing call as WeChat (the sandbox) received it. */
export interface ReceivedCall {
  /** Arrival, epoch ms. */
  at: number;
  endpoint: string;
}

/** A `token_fetch_attempt` row of the same account. */
export interface LoggedCall {
  /** `attempted_at`, epoch ms: when the replica logged the call, before sending it. */
  attemptedAt: number;
  endpoint: string;
  outcome: string | null;
}

/**
 * How far a call's arrival at the sandbox may be from the window its fetch-log
 * row allows (logged before it, at most the send deadline earlier). The
 * replicas' clock is the database's (ClusterClock: an offset measured over
 * loopback) and the sandbox's is the test's, on one machine; the rest is the
 * way from the send-deadline check to the sandbox's handler through several
 * busy event loops on a small machine.
 */
export const CALL_CLOCK_SLACK_MS = 250;

/** How far apart a call and its row may be. */
export interface MatchWindow {
  /** How much the replica's clock (`attempted_at`) and WeChat's (`at`) may disagree, plus the way to WeChat. */
  slackMs: number;
  /** How long after its row a call may go out; the library's send deadline unless a test says otherwise. */
  sendDeadlineMs?: number;
}

/**
 * The calls WeChat received that have no fetch-log row of their own (issue
 * 9: every upstream call has an attempt row). Each call is matched to a
 * distinct row of its endpoint logged before it arrived, at most the send
 * deadline earlier (both give or take `slackMs`). A `not_sent` row says its
 * call never went out, so it matches none. Pass one account's calls and rows.
 *
 * Calls in order of arrival, each taking the earliest free row in its window:
 * every window is as long as the others, so no other pairing matches more.
 */
export function unmatchedCalls<Call extends ReceivedCall>(
  calls: readonly Call[],
  rows: readonly LoggedCall[],
  { slackMs, sendDeadlineMs = SEND_DEADLINE_MS }: MatchWindow,
): Call[] {
  const candidates = rows
    .filter((row) => row.outcome !== 'not_sent')
    .sort((a, b) => a.attemptedAt - b.attemptedAt);
  const taken = candidates.map(() => false);
  const unmatched: Call[] = [];
  for (const call of [...calls].sort((a, b) => a.at - b.at)) {
    const earliest = call.at - sendDeadlineMs - slackMs;
    const latest = call.at + slackMs;
    const index = candidates.findIndex(
      (row, i) =>
        !taken[i] &&
        row.endpoint === call.endpoint &&
        row.attemptedAt >= earliest &&
        row.attemptedAt <= latest,
    );
    if (index < 0) unmatched.push(call);
    else taken[index] = true;
  }
  return unmatched;
}
