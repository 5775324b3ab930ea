import { describe, expect, it } from '@jest/globals';
import { CidrList, InvalidCidrError, normalizeCidr, normalizeIp } from './cidr-list.js';

describe('normalizeIp', () => {
  it('reads IPv4-mapped IPv6 as IPv4', () => {
    expect(normalizeIp('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeIp('::FFFF:10.1.2.3')).toBe('10.1.2.3');
  });

  it('leaves other addresses alone', () => {
    expect(normalizeIp('127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeIp('::1')).toBe('::1');
    expect(normalizeIp('2001:db8::1')).toBe('2001:db8::1');
    expect(normalizeIp('::ffff:zzz')).toBe('::ffff:zzz');
  });
});

describe('CidrList', () => {
  it('matches IPv4 networks, also for IPv4-mapped IPv6 peers', () => {
    const list = new CidrList(['10.0.0.0/8', '192.168.1.7']);
    expect(list.has('10.200.3.4')).toBe(true);
    expect(list.has('::ffff:10.200.3.4')).toBe(true);
    expect(list.has('192.168.1.7')).toBe(true);
    expect(list.has('192.168.1.8')).toBe(false);
    expect(list.has('11.0.0.1')).toBe(false);
  });

  it('matches IPv6 networks', () => {
    const list = new CidrList(['2001:db8::/32', '::1/128']);
    expect(list.has('2001:db8:1::5')).toBe(true);
    expect(list.has('::1')).toBe(true);
    expect(list.has('2001:db9::1')).toBe(false);
    expect(list.has('127.0.0.1')).toBe(false);
  });

  it('reads IPv4-mapped entries as IPv4 networks', () => {
    const list = new CidrList(['::ffff:172.16.0.0/108']);
    expect(list.has('172.16.5.5')).toBe(true);
    expect(list.has('172.32.0.1')).toBe(false);
  });

  it('is empty without entries and never matches garbage', () => {
    const list = new CidrList([' ', '']);
    expect(list.isEmpty).toBe(true);
    expect(new CidrList(['0.0.0.0/0']).has('not-an-ip')).toBe(false);
  });

  it.each(['10.0.0.0/33', '::/129', 'example.com', '10.0.0.0/x', '1.2.3.4/8/1'])('refuses %s', (entry) => {
    expect(() => new CidrList([entry])).toThrow(InvalidCidrError);
  });
});

describe('normalizeCidr', () => {
  it.each([
    ['10.0.0.0/8', '10.0.0.0/8'],
    [' 192.168.1.7 ', '192.168.1.7/32'],
    ['2001:DB8::/32', '2001:db8::/32'],
    ['::1', '::1/128'],
    ['::ffff:172.16.0.0/108', '172.16.0.0/12'],
    ['10.0.0.0/08', '10.0.0.0/8'],
  ])('writes %s as %s', (entry, normalized) => {
    expect(normalizeCidr(entry)).toBe(normalized);
  });

  it('refuses what CidrList refuses', () => {
    expect(() => normalizeCidr('10.0.0.0/33')).toThrow(InvalidCidrError);
  });
});
