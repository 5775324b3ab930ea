import { describe, expect, it } from '@jest/globals';
import {
  clientKeyMatches,
  formatClientKey,
  looksLikeClientKey,
  newClientSecret,
  parseClientKey,
} from './client-key.js';

describe('client keys', () => {
  it('are wtc_<id>_<43 base64url characters>, and parse back to the id and secret', () => {
    const { secret } = newClientSecret();
    const key = formatClientKey(42, secret);
    expect(key).toMatch(/^wtc_42_[A-Za-z0-9_-]{43}$/);
    expect(looksLikeClientKey(key)).toBe(true);
    expect(parseClientKey(key)).toEqual({ clientId: 42, secret });
  });

  it('keep only a salted digest, which the secret part matches and nothing else does', () => {
    const first = newClientSecret();
    const second = newClientSecret();
    expect(first.salt).toHaveLength(16);
    expect(first.digest).toHaveLength(32);
    expect(first.salt.equals(second.salt)).toBe(false);
    expect(clientKeyMatches(first, first.secret)).toBe(true);
    expect(clientKeyMatches(first, second.secret)).toBe(false);
    expect(clientKeyMatches(second, first.secret)).toBe(false);
    expect(first.digest.toString('hex')).not.toContain(Buffer.from(first.secret).toString('hex'));
  });

  it.each([
    ['no prefix', `42_${'A'.repeat(43)}`],
    ['no id', `wtc__${'A'.repeat(43)}`],
    ['a zero-led id', `wtc_042_${'A'.repeat(43)}`],
    ['an id beyond integer', `wtc_2147483648_${'A'.repeat(43)}`],
    ['a short secret', `wtc_42_${'A'.repeat(42)}`],
    ['a long secret', `wtc_42_${'A'.repeat(44)}`],
    ['a character outside base64url', `wtc_42_${'A'.repeat(42)}+`],
  ])('refuses %s', (_case, key) => {
    expect(parseClientKey(key)).toBeUndefined();
  });

  it('tells a key from an AppSecret (32 hex digits)', () => {
    expect(looksLikeClientKey('0123456789abcdef0123456789abcdef')).toBe(false);
  });
});
