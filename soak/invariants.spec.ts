import { describe, expect, it } from '@jest/globals';
import { judge, renderInvariants, type AccountFacts, type SoakFacts } from './invariants.js';

const account = (facts: Partial<AccountFacts> = {}): AccountFacts => ({
  mode: 'token',
  upstreamCalls: 5,
  loggedCalls: 5,
  unknownCalls: 0,
  noNewTokenCalls: 0,
  activeMs: 120_000,
  ...facts,
});

const facts = (overrides: Partial<SoakFacts> = {}): SoakFacts => ({
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
  refreshPeriodMs: 28_000,
  minAnsweredShare: 0.9,
  rssLimitMB: 400,
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

  it('allow one call per refresh period, one more per unknown or refused call, and the first fetch', () => {
    // 120 s / 28 s = 4 whole periods: 5 calls with the first.
    expect(failed(facts({ accounts: [account({ upstreamCalls: 5 })] }))).toEqual([]);
    expect(failed(facts({ accounts: [account({ upstreamCalls: 6, loggedCalls: 6 })] }))).toEqual([
      'upstream calls within one per refresh period',
    ]);
    const retried = account({ upstreamCalls: 7, loggedCalls: 7, unknownCalls: 1, noNewTokenCalls: 1 });
    expect(failed(facts({ accounts: [retried] }))).toEqual([]);
  });

  it('want a fetch-log row for every call that reached the sandbox', () => {
    expect(failed(facts({ accounts: [account({ upstreamCalls: 5, loggedCalls: 4 })] }))).toEqual([
      'every upstream call has a fetch-log row',
    ]);
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
