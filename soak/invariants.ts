import { outcomeUnknown, type AttemptOutcome } from 'nestjs-wechat-token';
import { SEND_DEADLINE_MS, unmatchedCalls, type LoggedCall, type ReceivedCall } from './call-matching.js';
import { FAULT_KINDS, type FaultCoverage } from './fault-coverage.js';
import type { MonitorFindings } from './monitor.js';
import type { ServedVerdict } from './served-tokens.js';

/** One account's upstream traffic: the sandbox's calls beside the fetch log. */
export interface AccountFacts {
  mode: 'token' | 'stable';
  /** Token-issuing calls the sandbox received for the account (all replicas, all outcomes). */
  calls: ReceivedCall[];
  /** The account's fetch-log rows (`token_fetch_attempt`), `not_sent` ones too. */
  attempts: LoggedCall[];
  /**
   * Fetches: the calls that issued a new token at the sandbox (whoever got the answer).
   * A stable_token call handed the token already held issues none, nor does an errcode.
   */
  fetches: number;
  /** From the account's first upstream call to the end of the run, ms. */
  activeMs: number;
}

/** Everything the verdict is drawn from. */
export interface SoakFacts {
  /** Start of the run, epoch ms: times in the table are counted from it. */
  startedAt: number;
  served: ServedVerdict;
  accounts: AccountFacts[];
  /** Asks sent to a replica that was up and stayed up until the answer, and how many got a token. */
  asksWhileUp: number;
  tokensWhileUp: number;
  monitor: MonitorFindings;
  kills: number;
  /** The shortest time between two planned fetches of an account (settings.ts). */
  refreshPeriodMs: number;
  minAnsweredShare: number;
  rssLimitMB: number;
  /** How far the replicas' clocks and the sandbox's may disagree when matching a call to its row. */
  clockSlackMs: number;
  /** The run's length (`--seconds`). */
  seconds: number;
  /** The faults that happened, and the ones that had their chance. */
  faults: FaultCoverage;
  /** From this run length on, every fault kind must have happened, tried or not (settings.ts). */
  everyFaultFromSeconds: number;
}

/** One row of the final table. */
export interface InvariantRow {
  name: string;
  value: string;
  limit: string;
  ok: boolean;
}

/**
 * The invariants, judged from the run's facts. Pure, so what each one means
 * is read here in one place:
 *
 * - Every token a replica hands out is live at the sandbox when the client
 *   gets it, and lives at least `expires_in` seconds from then.
 * - Every call that reached the sandbox has a fetch-log row of its own,
 *   logged before the call arrived and at most the send deadline earlier.
 * - Fetches (calls that issued a new token at the sandbox) stay within one
 *   per refresh period, plus one for every call of unknown result (WeChat
 *   may have issued a token nobody got, and a retry is legitimate), plus the
 *   first fetch. A call WeChat refused (errcode) issued nothing, so its
 *   retry needs no allowance; nor does a stable_token call answered with the
 *   token held.
 * - The chaos did what the run claims to survive: each kind of fault that
 *   had its chance (its action acted before the end) happened at least
 *   once, and in a run of `everyFaultFromSeconds` or more every kind did (a
 *   shorter run may end before the plan reaches some of them; a replay of an
 *   `everyFault` entry passes 0).
 * - Replicas that are up answer ≥ 90 % of asks with a token; no advisory
 *   lock outlives its holder; memory stays bounded; no replica ends unless
 *   the chaos killed it.
 */
export function judge(facts: SoakFacts): InvariantRow[] {
  const { served, monitor } = facts;
  const byMode = (render: (account: AccountFacts) => string) =>
    facts.accounts.map((account) => `${account.mode}: ${render(account)}`).join('; ');
  const unknownCalls = (account: AccountFacts) =>
    account.attempts.filter((row) => outcomeUnknown(row.outcome as AttemptOutcome | null)).length;
  const budget = (account: AccountFacts) => {
    const periods = Math.floor(account.activeMs / facts.refreshPeriodMs);
    return { periods, allowed: periods + unknownCalls(account) + 1 };
  };
  const unmatched = new Map(
    facts.accounts.map((account) => [
      account,
      unmatchedCalls(account.calls, account.attempts, { slackMs: facts.clockSlackMs }),
    ]),
  );
  const at = (ms: number) => `${((ms - facts.startedAt) / 1000).toFixed(1)} s`;
  const share = facts.asksWhileUp === 0 ? 0 : facts.tokensWhileUp / facts.asksWhileUp;
  const { exercised, tried, midFetchFreezes } = facts.faults;
  const everyFault = facts.seconds >= facts.everyFaultFromSeconds;
  const notExercised = FAULT_KINDS.filter((kind) => exercised.get(kind) === 0);
  const missingFaults = notExercised.filter((kind) => everyFault || tried.has(kind));
  const notReached = notExercised.filter((kind) => !missingFaults.includes(kind));
  return [
    {
      name: 'served token live at the sandbox at receipt',
      value: `${served.deadAtReceipt} of ${served.answers} answers dead (${served.deadTokens} of ${served.tokens} tokens)`,
      limit: '0 dead',
      ok: served.deadAtReceipt === 0 && served.answers > 0,
    },
    {
      name: 'served token lives its expires_in from receipt',
      value:
        `${served.brokenPromises} answers short (${served.brokenTokens} tokens)` +
        (served.brokenPromises > 0
          ? `, ${served.brokenByUnder100Ms} of them by < 0.1 s; worst by ${(served.worstShortfallMs / 1000).toFixed(3)} s`
          : ''),
      limit: '0 short',
      ok: served.brokenPromises === 0,
    },
    {
      name: 'every upstream call has its own fetch-log row',
      value: byMode((a) => {
        const missing = unmatched.get(a)!;
        const matched = `${a.calls.length - missing.length} of ${a.calls.length} calls matched (${a.attempts.length} rows)`;
        if (missing.length === 0) return matched;
        const first = missing.slice(0, 4).map((call) => at(call.at));
        return `${matched}, without a row: ${first.join(', ')}${missing.length > first.length ? ', ...' : ''}`;
      }),
      limit: `one row per call, logged 0-${SEND_DEADLINE_MS / 1000} s before it (+-${facts.clockSlackMs / 1000} s)`,
      ok: [...unmatched.values()].every((missing) => missing.length === 0),
    },
    {
      name: 'fetches within one per refresh period',
      value: byMode((a) => {
        const { periods, allowed } = budget(a);
        return `${a.fetches} new tokens (${a.calls.length} calls) <= ${periods} + ${unknownCalls(a)} unknown + 1 = ${allowed}`;
      }),
      limit: `periods of ${facts.refreshPeriodMs / 1000} s + unknown calls + 1`,
      ok: facts.accounts.every((a) => a.fetches <= budget(a).allowed),
    },
    {
      name: 'faults exercised',
      value:
        FAULT_KINDS.map(
          (kind) =>
            `${kind} ${exercised.get(kind)}${kind === 'freeze' && midFetchFreezes > 0 ? ` (${midFetchFreezes} mid-fetch)` : ''}`,
        ).join(', ') +
        (missingFaults.length > 0 ? `; MISSING: ${missingFaults.join(', ')}` : '') +
        (notReached.length > 0 ? `; not reached in ${facts.seconds} s: ${notReached.join(', ')}` : ''),
      limit:
        facts.everyFaultFromSeconds === 0
          ? '>= 1 of every kind'
          : `>= 1 of each kind tried; of all from ${facts.everyFaultFromSeconds} s`,
      ok: missingFaults.length === 0,
    },
    {
      name: 'asks answered with a token (replica up)',
      value: `${(share * 100).toFixed(1)} % (${facts.tokensWhileUp} of ${facts.asksWhileUp})`,
      limit: `>= ${(facts.minAnsweredShare * 100).toFixed(0)} %`,
      ok: facts.asksWhileUp > 0 && share >= facts.minAnsweredShare,
    },
    {
      name: 'no advisory lock held by a dead replica',
      value:
        `${monitor.deadLockHolders.length} dead holders` +
        (monitor.deadLockHolders.length > 0 ? ` (${monitor.deadLockHolders.join(', ')})` : '') +
        `; ${monitor.lockSamplesAfterKills} samples after ${facts.kills} kills, ${monitor.lockSamples} in all`,
      limit: '0',
      ok: monitor.deadLockHolders.length === 0 && monitor.lockSamplesAfterKills >= facts.kills,
    },
    {
      name: 'replica memory (VmRSS)',
      value: `max ${monitor.maxRss.mb.toFixed(0)} MB (${monitor.maxRss.replica || 'none'}), ${monitor.rssSamples} samples`,
      limit: `< ${facts.rssLimitMB} MB`,
      ok: monitor.rssSamples > 0 && monitor.maxRss.mb < facts.rssLimitMB,
    },
    {
      name: 'no replica exit but the chaos kills',
      value:
        `${monitor.replicaFailures.length}` +
        (monitor.replicaFailures.length > 0 ? ` (${monitor.replicaFailures.join('; ')})` : ''),
      limit: '0',
      ok: monitor.replicaFailures.length === 0,
    },
  ];
}

/** The table, plain text that is also Markdown. */
export function renderInvariants(rows: InvariantRow[]): string {
  const header = ['invariant', 'value', 'limit', 'result'];
  const cells = rows.map((row) => [row.name, row.value, row.limit, row.ok ? 'OK' : 'FAIL']);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}
