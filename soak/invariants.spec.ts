import { describe, expect, it } from '@jest/globals';
import { FAULT_KINDS, type FaultCoverage, type FaultKind } from './fault-coverage.js';
import { judge, renderInvariants, type AccountFacts, type SoakFacts } from './invariants.js';

const START = Date.UTC(2025, 0, 1, 2, 0, 0);
const PERIOD_MS = 28_000;

/** `count` calls a refresh period apart, from 1 s into the run, each logged 50 ms before it arrived. */
function traffic(count: number, outcome: (index: number) => string | null = () => 'ok') {
  const calls = Array.from({ length: count }, (_, i) => ({
    at: START + 1000 + i * PERIOD_MS,
    endpoint: 'token',
  }));
  const attempts = calls.map((call, i) => ({
    attemptedAt: call.at - 50,
    endpoint: 'token',
    outcome: outcome(i),
  }));
  return { calls, attempts };
}

const account = (facts: Partial<AccountFacts> = {}): AccountFacts => ({
  mode: 'token',
  ...traffic(5),
  fetches: 5,
  activeMs: 120_000,
  ...facts,
});

/** Every kind tried and exercised once, but `exercised` says otherwise for some; `untried` never came up. */
function coverage(
  exercised: Partial<Record<FaultKind, number>> = {},
  untried: FaultKind[] = [],
): FaultCoverage {
  return {
    exercised: new Map(
      FAULT_KINDS.map((kind) => [kind, exercised[kind] ?? (untried.includes(kind) ? 0 : 1)]),
    ),
    tried: new Set(FAULT_KINDS.filter((kind) => !untried.includes(kind))),
    midFetchFreezes: 0,
  };
}

const facts = (overrides: Partial<SoakFacts> = {}): SoakFacts => ({
  startedAt: START,
  served: {
    answers: 100,
    tokens: 5,
    deadAtReceipt: 0,
    deadTokens: 0,
    brokenPromises: 0,
    brokenByUnder100Ms: 0,
    brokenTokens: 0,
    worstShortfallMs: 0,
  },
  accounts: [account()],
  asksWhileUp: 100,
  tokensWhileUp: 95,
  monitor: {
    maxRss: { mb: 150, replica: 'soak-r0-g1' },
    rssSamples: 10,
    deadLockHolders: [],
    lockSamples: 10,
    lockSamplesAfterKills: 2,
    replicaFailures: [],
  },
  kills: 2,
  refreshPeriodMs: PERIOD_MS,
  minAnsweredShare: 0.9,
  rssLimitMB: 400,
  clockSlackMs: 250,
  seconds: 120,
  faults: coverage(),
  everyFaultFromSeconds: 600,
  ...overrides,
});

const failed = (soakFacts: SoakFacts) =>
  judge(soakFacts)
    .filter((row) => !row.ok)
    .map((row) => row.name);

describe('soak invariants', () => {
  it('all hold on a clean run', () => {
    expect(failed(facts())).toEqual([]);
    expect(renderInvariants(judge(facts()))).toContain('| OK ');
  });

  it('allow one fetch per refresh period, one more per call of unknown result, and the first', () => {
    // 120 s / 28 s = 4 whole periods: 5 fetches with the first.
    expect(failed(facts({ accounts: [account({ fetches: 5 })] }))).toEqual([]);
    expect(failed(facts({ accounts: [account({ ...traffic(6), fetches: 6 })] }))).toEqual([
      'fetches within one per refresh period',
    ]);
    // A timeout that still issued, and its retry: one more.
    const timedOut = traffic(6, (i) => (i === 1 ? 'timeout' : 'ok'));
    expect(failed(facts({ accounts: [account({ ...timedOut, fetches: 6 })] }))).toEqual([]);
    // A call answered with no row outcome at all (its replica killed) counts as unknown too.
    const killed = traffic(6, (i) => (i === 1 ? null : 'ok'));
    expect(failed(facts({ accounts: [account({ ...killed, fetches: 6 })] }))).toEqual([]);
  });

  it('count the new tokens, not the calls: a refused call issues none, and earns no allowance', () => {
    // Errcodes and stable tokens handed back as they were are calls, not fetches.
    const refused = traffic(7, (i) => ({ 1: 'errcode', 2: 'unchanged' })[i] ?? 'ok');
    expect(failed(facts({ accounts: [account({ ...refused, fetches: 5 })] }))).toEqual([]);
    const rows = judge(facts({ accounts: [account({ ...refused, fetches: 6 })] }));
    expect(rows.filter((row) => !row.ok)).toEqual([
      expect.objectContaining({
        name: 'fetches within one per refresh period',
        value: 'token: 6 new tokens (7 calls) <= 4 + 0 unknown + 1 = 5',
      }),
    ]);
  });

  it('want a fetch-log row of its own for every call that reached the sandbox, and say when the others came', () => {
    const { calls, attempts } = traffic(5);
    const withoutRow = judge(facts({ accounts: [account({ calls, attempts: attempts.slice(1, 4) })] }));
    expect(withoutRow.filter((row) => !row.ok)).toEqual([
      expect.objectContaining({
        name: 'every upstream call has its own fetch-log row',
        value: 'token: 3 of 5 calls matched (3 rows), without a row: 1.0 s, 113.0 s',
      }),
    ]);
    // As many rows as calls, but one logged 2 s before its call: longer than a call may wait to go out.
    const early = attempts.map((row, i) => (i === 2 ? { ...row, attemptedAt: row.attemptedAt - 2000 } : row));
    expect(failed(facts({ accounts: [account({ calls, attempts: early })] }))).toEqual([
      'every upstream call has its own fetch-log row',
    ]);
    // Or logged after the call arrived, past the clocks' slack.
    const late = attempts.map((row, i) => (i === 2 ? { ...row, attemptedAt: calls[2].at + 251 } : row));
    expect(failed(facts({ accounts: [account({ calls, attempts: late })] }))).toEqual([
      'every upstream call has its own fetch-log row',
    ]);
    // A call given up before it went out is no row for a call that came.
    const notSent = attempts.map((row, i) => (i === 2 ? { ...row, outcome: 'not_sent' } : row));
    expect(failed(facts({ accounts: [account({ calls, attempts: notSent })] }))).toEqual([
      'every upstream call has its own fetch-log row',
    ]);
  });

  it('want every kind of fault that had its chance to have happened', () => {
    const rows = judge(facts({ faults: { ...coverage(), midFetchFreezes: 1 } }));
    expect(rows.find((row) => row.name === 'faults exercised')?.value).toBe(
      'kill 1, kill mid-fetch 1, freeze 1 (1 mid-fetch), Postgres restart 1, late answer 1, -1 1, HTTP 500 1, garbage 1, cut connection 1',
    );
    // Every mid-fetch kill missed (or every late answer came back without a token): the run proved nothing of it.
    const missed = judge(facts({ faults: coverage({ 'kill mid-fetch': 0, 'late answer': 0 }) }));
    expect(missed.filter((row) => !row.ok)).toEqual([
      expect.objectContaining({
        name: 'faults exercised',
        value: expect.stringMatching(/; MISSING: kill mid-fetch, late answer$/),
      }),
    ]);
  });

  it('hold a short run only to the kinds its plan reached, a long one to all', () => {
    const short = judge(facts({ faults: coverage({}, ['HTTP 500', 'cut connection']) }));
    expect(short.filter((row) => !row.ok)).toEqual([]);
    expect(short.find((row) => row.name === 'faults exercised')?.value).toMatch(
      /; not reached in 120 s: HTTP 500, cut connection$/,
    );
    expect(failed(facts({ seconds: 600, faults: coverage({}, ['HTTP 500']) }))).toEqual(['faults exercised']);
    expect(failed(facts({ seconds: 600, faults: coverage() }))).toEqual([]);
    // A replay whose entry says everyFault (the CI one) is held to all, whatever its length.
    const every = judge(facts({ everyFaultFromSeconds: 0, faults: coverage({}, ['HTTP 500']) }));
    expect(every.find((row) => row.name === 'faults exercised')).toMatchObject({
      ok: false,
      value: expect.stringMatching(/; MISSING: HTTP 500$/),
      limit: '>= 1 of every kind',
    });
  });

  it('fail on a dead or short-lived token, and say how short', () => {
    const served = { ...facts().served, brokenPromises: 3, brokenByUnder100Ms: 2, brokenTokens: 1 };
    const rows = judge(facts({ served: { ...served, worstShortfallMs: 9440 } }));
    expect(rows.find((row) => !row.ok)?.value).toBe(
      '3 answers short (1 tokens), 2 of them by < 0.1 s; worst by 9.440 s',
    );
    expect(failed(facts({ served: { ...facts().served, deadAtReceipt: 1, deadTokens: 1 } }))).toEqual([
      'served token live at the sandbox at receipt',
    ]);
  });

  it('fail below 90 % answered, on a lock outliving its holder, a missing lock sample, memory, and a crash', () => {
    expect(failed(facts({ tokensWhileUp: 89 }))).toEqual(['asks answered with a token (replica up)']);
    const monitor = facts().monitor;
    expect(failed(facts({ monitor: { ...monitor, deadLockHolders: ['soak-r1-g1'] } }))).toEqual([
      'no advisory lock held by a dead replica',
    ]);
    expect(failed(facts({ kills: 3 }))).toEqual(['no advisory lock held by a dead replica']);
    expect(failed(facts({ monitor: { ...monitor, maxRss: { mb: 400, replica: 'soak-r0-g1' } } }))).toEqual([
      'replica memory (VmRSS)',
    ]);
    expect(
      failed(facts({ monitor: { ...monitor, replicaFailures: ['soak-r2-g1 exited (code 1)'] } })),
    ).toEqual(['no replica exit but the chaos kills']);
  });
});
