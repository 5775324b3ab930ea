import { describe, expect, it } from '@jest/globals';
import { cidrLines } from './public/manage-clients.js';

describe('cidrLines', () => {
  it('takes one network per line (or comma), trimmed, blank lines dropped', () => {
    expect(cidrLines('10.1.0.0/16\r\n  192.168.0.0/24 \n\n127.0.0.1,::1/128\n')).toEqual([
      '10.1.0.0/16',
      '192.168.0.0/24',
      '127.0.0.1',
      '::1/128',
    ]);
  });

  it('is empty for an empty field (the global allowlist alone)', () => {
    expect(cidrLines('')).toEqual([]);
    expect(cidrLines(' \n \n')).toEqual([]);
  });
});
