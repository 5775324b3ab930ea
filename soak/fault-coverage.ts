import type { SandboxCallRecord } from 'nestjs-wechat-token/testing';
import type { ChaosAction } from './chaos.js';

/**
 * The faults issue 9 names, as the table lists them: a SIGKILL and restart,
 * one mid-fetch (while the replica holds the lock with its call pending), a
 * SIGSTOP longer than the lock wait, a Postgres restart, and sandbox answers:
 * late (after the replica's timeout) but still issuing, errcode -1, HTTP 500,
 * a body that is no JSON, and the connection cut after issuing.
 */
export const FAULT_KINDS = [
  'kill',
  'kill mid-fetch',
  'freeze',
  'Postgres restart',
  'late answer',
  '-1',
  'HTTP 500',
  'garbage',
  'cut connection',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const KIND_OF: Record<ChaosAction, FaultKind> = {
  kill: 'kill',
  'kill-mid-fetch': 'kill mid-fetch',
  freeze: 'freeze',
  'freeze-mid-fetch': 'freeze',
  'postgres-restart': 'Postgres restart',
  'late-answer': 'late answer',
  errcode: '-1',
  'http-500': 'HTTP 500',
  'non-json': 'garbage',
  'drop-connection': 'cut connection',
};

/** What a sandbox fault's call must show to count: the fault did what it is named for. */
const TOOK_EFFECT: Partial<Record<ChaosAction, (call: SandboxCallRecord) => boolean>> = {
  // The delay is longer than the replicas' HTTP timeout by construction (chaos.ts): answered 200 with a token, it issued late.
  'late-answer': (call) => call.httpStatus === 200 && call.errcode === 0,
  errcode: (call) => call.errcode === -1,
  'http-500': (call) => call.httpStatus === 500,
  'non-json': (call) => call.httpStatus === 200 && call.errcode === null,
  'drop-connection': (call) => call.dropped && call.errcode === 0,
};

/** One chaos action, as it played out. */
export interface ChaosPlay {
  action: ChaosAction;
  /**
   * `done`: it acted (a sandbox fault: queued; whether a call took it is read
   * from the sandbox); `missed`: the harness found no chance (no fetch or lock
   * holder mid-fetch within a token's lifetime, its replica down, its account
   * still disturbed after a token's lifetime: the latter shows in the served
   * tokens' rows if it is the server's doing); `cut`: the run ended first.
   */
  result: 'done' | 'missed' | 'cut';
  /** A queued sandbox fault: its account, and how many calls of that account came before (the next one takes it). */
  fault?: { appId: string; callIndex: number };
}

/** Which faults happened, and which had their chance. */
export interface FaultCoverage {
  /** How many times each kind happened. */
  exercised: Map<FaultKind, number>;
  /** Kinds whose action acted before the end (not missed by the harness, not cut by the end): the run should have exercised them. */
  tried: Set<FaultKind>;
  /** Of the freezes, how many mid-fetch. */
  midFetchFreezes: number;
}

/**
 * Counts the faults that happened: a kill, freeze or Postgres restart when
 * the chaos did it; a sandbox fault when the call that took it (the account's
 * next call after it was queued: one fault waits at a time, chaos.ts) shows
 * it. A fault still waiting for its call at the end, or a call still waiting
 * for its answer, was cut by the end.
 */
export function faultCoverage(
  plays: readonly ChaosPlay[],
  sandboxLog: readonly SandboxCallRecord[],
): FaultCoverage {
  const exercised = new Map<FaultKind, number>(FAULT_KINDS.map((kind) => [kind, 0]));
  const tried = new Set<FaultKind>();
  let midFetchFreezes = 0;
  const callsOf = new Map<string, SandboxCallRecord[]>();
  for (const call of sandboxLog) {
    const calls = callsOf.get(call.appId) ?? [];
    calls.push(call);
    callsOf.set(call.appId, calls);
  }
  for (const play of plays) {
    // Cut off by the end, or missed by the harness (no fetch or lock holder came in time,
    // its replica down, its account still disturbed): the kind had no chance in this play.
    if (play.result !== 'done') continue;
    const kind = KIND_OF[play.action];
    let result: 'done' | 'missed' | 'cut' = 'done';
    const check = TOOK_EFFECT[play.action];
    if (check) {
      const call = play.fault && callsOf.get(play.fault.appId)?.[play.fault.callIndex];
      const answered = call !== undefined && (call.httpStatus !== null || call.dropped);
      // Still waiting for its call (or its answer) at the end: cut. Taken, but not shown: a miss
      // of the sandbox or the chaos, held against the run.
      result = !answered ? 'cut' : call.faulted && check(call) ? 'done' : 'missed';
    }
    if (result === 'cut') continue;
    tried.add(kind);
    if (result !== 'done') continue;
    exercised.set(kind, exercised.get(kind)! + 1);
    if (play.action === 'freeze-mid-fetch') midFetchFreezes += 1;
  }
  return { exercised, tried, midFetchFreezes };
}
