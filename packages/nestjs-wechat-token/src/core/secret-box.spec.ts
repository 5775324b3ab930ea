import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { SecretBox, SecretBoxError, secretKeyId } from './secret-box.js';

describe('SecretBox', () => {
  const current = randomBytes(32);
  const previous = randomBytes(32);

  it('seals with a fresh nonce each time and opens what it sealed', () => {
    const box = new SecretBox({ current });
    const a = box.seal('the-app-secret', 'ctx');
    const b = box.seal('the-app-secret', 'ctx');
    expect(a).not.toBe(b);
    expect(a).not.toContain('the-app-secret');
    expect(SecretBox.isSealed(a)).toBe(true);
    expect(SecretBox.keyIdOf(a)).toBe(secretKeyId(current));
    expect(box.open(a, 'ctx')).toBe('the-app-secret');
    expect(box.open(b, 'ctx')).toBe('the-app-secret');
  });

  it('opens values of the previous key, and seals under the current one', () => {
    const old = new SecretBox({ current: previous }).seal('v', 'ctx');
    const rotated = new SecretBox({ current, previous });
    expect(rotated.open(old, 'ctx')).toBe('v');
    expect(SecretBox.keyIdOf(rotated.seal('v', 'ctx'))).toBe(rotated.currentKeyId);
    expect(() => new SecretBox({ current }).open(old, 'ctx')).toThrow(
      /neither the current nor the previous key/,
    );
  });

  it('refuses a value moved to another context, altered, or not sealed', () => {
    const box = new SecretBox({ current });
    const sealed = box.seal('value', 'access_token:wx1');
    expect(() => box.open(sealed, 'access_token:wx2')).toThrow(SecretBoxError);
    const altered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
    expect(() => box.open(altered, 'access_token:wx1')).toThrow(/does not open/);
    expect(() => box.open('plain', 'x')).toThrow(/not a sealed value/);
    expect(() => new SecretBox({ current: randomBytes(16) })).toThrow(RangeError);
  });
});
