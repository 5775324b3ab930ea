import { describe, expect, it } from '@jest/globals';
import type { QuotaResumeResult } from 'nestjs-wechat-token';
import { assertNoCredentials } from './audit-details.js';
import { quotaResumeDone } from './quota-resume-audit.js';

describe('quota resume audit details', () => {
  it('records what the resume did and where the account stands, never the token', () => {
    const status = {
      resumed: true,
      token: 'abcd…wxyz',
      tokenId: '42',
      blockedReason: null,
      lastError: null,
    } as unknown as QuotaResumeResult;
    const resumed = quotaResumeDone(status);
    expect(resumed).toEqual({ outcome: 'resumed', tokenId: '42', blockedReason: null, errcode: null });
    expect(() => assertNoCredentials(resumed)).not.toThrow();
    expect(JSON.stringify(resumed)).not.toContain('abcd');

    const blockedAgain = {
      ...status,
      blockedReason: 'quota',
      lastError: { errcode: 45009, errmsg: 'reach max api daily quota limit', hint: '…', at: '' },
    } as QuotaResumeResult;
    expect(quotaResumeDone(blockedAgain)).toMatchObject({
      outcome: 'resumed',
      blockedReason: 'quota',
      errcode: 45009,
    });
    expect(quotaResumeDone({ ...status, resumed: false })).toMatchObject({ outcome: 'not_blocked' });
  });
});
