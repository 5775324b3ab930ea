import { describe, expect, it } from '@jest/globals';
import { HealthIndicatorService } from '@nestjs/terminus';
import { FakeTokenService } from '../cgi-bin/token-service.fake.js';
import { WechatTokenHealthIndicator } from './wechat-token.health.js';

const A = 'wx000000000000000a';
const B = 'wx000000000000000b';

function indicator(tokens: FakeTokenService) {
  return new WechatTokenHealthIndicator(new HealthIndicatorService(), tokens.asService());
}

describe('WechatTokenHealthIndicator', () => {
  it('is up when every account holds a usable token', () => {
    const tokens = new FakeTokenService([A, B]);
    expect(indicator(tokens).isHealthy('accounts')).toEqual({
      accounts: { status: 'up', accounts: { [A]: { usable: true }, [B]: { usable: true } } },
    });
  });

  it('is down naming the account without a token and its last error', () => {
    const tokens = new FakeTokenService([A, B]);
    tokens.usable.set(B, false);
    tokens.lastErrors.set(B, {
      errcode: 40164,
      errmsg: 'invalid ip 1.2.3.4',
      hint: 'Whitelist 1.2.3.4.',
      at: '2026-01-01T00:00:00.000Z',
    });
    const result = indicator(tokens).isHealthy('accounts');
    expect(result.accounts.status).toBe('down');
    expect(result.accounts.accounts[B]).toEqual({
      usable: false,
      lastError: { errcode: 40164, hint: 'Whitelist 1.2.3.4.', at: '2026-01-01T00:00:00.000Z' },
    });
  });

  it('is degraded (still 200) when a token is held but the last refresh failed', () => {
    const tokens = new FakeTokenService([A]);
    tokens.lastErrors.set(A, {
      errcode: -1,
      errmsg: 'system error',
      hint: 'Busy.',
      at: '2026-01-01T00:00:00.000Z',
    });
    expect(indicator(tokens).isHealthy('accounts').accounts.status).toBe('degraded');
  });

  it('checks only the given accounts', () => {
    const tokens = new FakeTokenService([A, B]);
    tokens.usable.set(B, false);
    expect(indicator(tokens).isHealthy('accounts', [A]).accounts.status).toBe('up');
  });
});
