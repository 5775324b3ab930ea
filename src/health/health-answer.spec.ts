import { describe, expect, it } from '@jest/globals';
import type { HealthCheckResult } from '@nestjs/terminus';
import { healthHttpStatus, publicHealthAnswer } from './health-answer.js';

const APP_ID = 'wx0123456789abcdef';

function result(
  status: HealthCheckResult['status'],
  details: HealthCheckResult['details'],
): HealthCheckResult {
  return { status, details };
}

describe('publicHealthAnswer', () => {
  it('is the status alone when everything is up', () => {
    const up = result('ok', {
      database: { status: 'up' },
      wechat_accounts: { status: 'up', accounts: { [APP_ID]: { usable: true } } },
    });
    expect(publicHealthAnswer(up)).toEqual({ status: 'ok' });
    expect(healthHttpStatus(up)).toBe(200);
  });

  it('names the component classes down or degraded, and nothing they hold', () => {
    const down = result('error', {
      database: { status: 'down', message: 'connect ECONNREFUSED 10.0.0.5:5432' },
      wechat_accounts: {
        status: 'down',
        accounts: {
          [APP_ID]: { usable: false, lastError: { errcode: 40164, hint: 'Whitelist 203.0.113.9.', at: '…' } },
        },
      },
    });
    expect(publicHealthAnswer(down)).toEqual({ status: 'error', down: ['database', 'wechat_accounts'] });
    expect(healthHttpStatus(down)).toBe(503);

    const degraded = result('degraded', {
      database: { status: 'up' },
      wechat_accounts: { status: 'degraded', accounts: { [APP_ID]: { usable: true } } },
    });
    expect(publicHealthAnswer(degraded)).toEqual({ status: 'degraded', degraded: ['wechat_accounts'] });
    expect(healthHttpStatus(degraded)).toBe(200);
  });

  it('answers 503 while shutting down', () => {
    expect(healthHttpStatus({ status: 'shutting_down' })).toBe(503);
  });
});
