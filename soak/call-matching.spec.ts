import { describe, expect, it } from '@jest/globals';
import { SEND_DEADLINE_MS, unmatchedCalls, type LoggedCall } from './call-matching.js';

const call = (at: number, endpoint = 'token') => ({ at, endpoint });
const row = (attemptedAt: number, outcome: string | null = 'ok', endpoint = 'token'): LoggedCall => ({
  attemptedAt,
  endpoint,
  outcome,
});
const WINDOW = { slackMs: 100 };

describe('matching the calls WeChat received to fetch-log rows', () => {
  it("reads the library's send deadline", () => {
    expect(SEND_DEADLINE_MS).toBe(1000);
  });

  it('pairs each call with a row logged before it, at most the send deadline (and the slack) earlier', () => {
    expect(unmatchedCalls([call(10_000)], [row(10_000 - 1100)], WINDOW)).toEqual([]);
    expect(unmatchedCalls([call(10_000)], [row(10_100)], WINDOW)).toEqual([]);
    expect(unmatchedCalls([call(10_000)], [row(10_000 - 1101)], WINDOW)).toEqual([call(10_000)]);
    expect(unmatchedCalls([call(10_000)], [row(10_101)], WINDOW)).toEqual([call(10_000)]);
    expect(unmatchedCalls([call(10_000)], [row(8000)], { slackMs: 100, sendDeadlineMs: 2000 })).toEqual([]);
  });

  it('one row per call: enough rows in all is not enough', () => {
    // Three calls, three rows, but two of the rows belong to no call.
    const calls = [call(10_000), call(10_050), call(40_000)];
    expect(unmatchedCalls(calls, [row(9990), row(20_000), row(30_000)], WINDOW)).toEqual([
      call(10_050),
      call(40_000),
    ]);
    expect(unmatchedCalls(calls, [row(40_000), row(9990), row(9995)], WINDOW)).toEqual([]);
  });

  it('finds the pairing where taking the nearest row would leave a later call without one', () => {
    // The row at 9_950 is nearest to the first call but the only one the second can have.
    expect(unmatchedCalls([call(11_000), call(10_000)], [row(9950), row(9000)], WINDOW)).toEqual([]);
  });

  it('a not_sent row or a row of another endpoint is no call', () => {
    expect(unmatchedCalls([call(10_000)], [row(9900, 'not_sent')], WINDOW)).toEqual([call(10_000)]);
    expect(unmatchedCalls([call(10_000)], [row(9900, 'ok', 'stable_token')], WINDOW)).toEqual([call(10_000)]);
    expect(unmatchedCalls([call(10_000)], [row(9900, null)], WINDOW)).toEqual([]);
  });
});
