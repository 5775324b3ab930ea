import { describe, expect, it } from '@jest/globals';
import type { SandboxCallRecord } from 'nestjs-wechat-token/testing';
import { faultCoverage, type ChaosPlay } from './fault-coverage.js';

const APP = 'wx0000000000000001';
const OTHER = 'wx0000000000000002';

/** A call as the sandbox logs it: a plain token by default. */
const call = (fields: Partial<SandboxCallRecord> = {}): SandboxCallRecord => ({
  at: 0,
  endpoint: 'token',
  appId: APP,
  forceRefresh: false,
  errcode: 0,
  httpStatus: 200,
  dropped: false,
  faulted: false,
  ...fields,
});
const queued = (action: ChaosPlay['action'], callIndex: number, appId = APP): ChaosPlay => ({
  action,
  result: 'done',
  fault: { appId, callIndex },
});

describe('fault coverage', () => {
  it('counts the kills, freezes and Postgres restarts the chaos did, and what it tried', () => {
    const coverage = faultCoverage(
      [
        { action: 'kill', result: 'done' },
        { action: 'kill-mid-fetch', result: 'missed' },
        { action: 'freeze', result: 'done' },
        { action: 'freeze-mid-fetch', result: 'done' },
        { action: 'postgres-restart', result: 'cut' },
      ],
      [],
    );
    expect(Object.fromEntries(coverage.exercised)).toMatchObject({
      kill: 1,
      'kill mid-fetch': 0,
      freeze: 2,
      'Postgres restart': 0,
    });
    expect(coverage.midFetchFreezes).toBe(1);
    // A miss of the harness (no lock holder found in time) and an action the end cut short had no real chance.
    expect([...coverage.tried].sort()).toEqual(['freeze', 'kill']);
  });

  it("counts a sandbox fault when the account's next call shows it", () => {
    const log = [
      call(), // 0: APP
      call({ appId: OTHER }),
      call({ faulted: true, httpStatus: 200, errcode: 0 }), // 1: late, still issued
      call({ faulted: true, errcode: -1 }), // 2
      call({ faulted: true, httpStatus: 500, errcode: null }), // 3
      call({ faulted: true, httpStatus: 200, errcode: null }), // 4: no JSON
      call({ faulted: true, httpStatus: null, dropped: true, errcode: 0 }), // 5: cut after issuing
    ];
    const plays = [
      queued('late-answer', 1),
      queued('errcode', 2),
      queued('http-500', 3),
      queued('non-json', 4),
      queued('drop-connection', 5),
    ];
    const coverage = faultCoverage(plays, log);
    expect(Object.fromEntries(coverage.exercised)).toMatchObject({
      'late answer': 1,
      '-1': 1,
      'HTTP 500': 1,
      garbage: 1,
      'cut connection': 1,
    });
  });

  it('a fault whose call does not show it was tried, not exercised; one no call took by the end was cut', () => {
    const log = [
      call(),
      call({ faulted: true, httpStatus: 200, errcode: -1 }), // 1: the late answer came back -1: it issued nothing
      call({ faulted: false, errcode: 0 }), // 2: the call took no fault
      call({ faulted: true, httpStatus: null, errcode: null }), // 3: still waiting for its answer at the end
    ];
    const coverage = faultCoverage(
      [queued('late-answer', 1), queued('http-500', 2), queued('non-json', 3), queued('errcode', 4)],
      log,
    );
    expect([...coverage.exercised.values()].every((count) => count === 0)).toBe(true);
    expect([...coverage.tried].sort()).toEqual(['HTTP 500', 'late answer']);
  });

  it("reads the fault's own account's calls", () => {
    const log = [call({ appId: OTHER }), call({ appId: OTHER, faulted: true, errcode: -1 }), call()];
    const coverage = faultCoverage([queued('errcode', 1, OTHER), queued('errcode', 0)], log);
    expect(coverage.exercised.get('-1')).toBe(1);
    expect(coverage.tried).toEqual(new Set(['-1']));
  });
});
