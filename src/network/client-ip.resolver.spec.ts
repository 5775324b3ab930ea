import { describe, expect, it } from '@jest/globals';
import { CidrList } from './cidr-list.js';
import { ClientIpResolver, UNKNOWN_CLIENT_IP } from './client-ip.resolver.js';

const noProxy = new ClientIpResolver(new CidrList([]));
const behindProxy = new ClientIpResolver(new CidrList(['10.0.0.0/8', '::1/128']));

describe('ClientIpResolver', () => {
  it('uses the socket peer, IPv4-mapped as IPv4', () => {
    expect(noProxy.resolve('::ffff:127.0.0.2', undefined)).toBe('127.0.0.2');
    expect(noProxy.resolve('::1', undefined)).toBe('::1');
  });

  it('ignores X-Forwarded-For without TRUST_PROXY', () => {
    expect(noProxy.resolve('127.0.0.2', '127.0.0.1')).toBe('127.0.0.2');
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', () => {
    expect(behindProxy.resolve('203.0.113.9', '127.0.0.1')).toBe('203.0.113.9');
  });

  it('takes the right-most address that is not a trusted proxy', () => {
    expect(behindProxy.resolve('10.0.0.1', '1.1.1.1, 198.51.100.7, 10.0.0.5')).toBe('198.51.100.7');
    expect(behindProxy.resolve('::ffff:10.0.0.1', '198.51.100.7')).toBe('198.51.100.7');
  });

  it('reads several header lines as one list', () => {
    expect(behindProxy.resolve('10.0.0.1', ['1.1.1.1', '198.51.100.7, 10.0.0.9'])).toBe('198.51.100.7');
  });

  it('strips ports and brackets', () => {
    expect(behindProxy.resolve('10.0.0.1', '198.51.100.7:5555')).toBe('198.51.100.7');
    expect(behindProxy.resolve('10.0.0.1', '[2001:db8::7]:443')).toBe('2001:db8::7');
    expect(behindProxy.resolve('10.0.0.1', '2001:db8::7')).toBe('2001:db8::7');
  });

  it('takes the left-most hop when every hop is a trusted proxy', () => {
    expect(behindProxy.resolve('10.0.0.1', '10.0.0.3, 10.0.0.2')).toBe('10.0.0.3');
  });

  it('treats a hop that is not an IP as an unknown client', () => {
    expect(behindProxy.resolve('10.0.0.1', '127.0.0.1, <script>')).toBe(UNKNOWN_CLIENT_IP);
    expect(behindProxy.resolve('10.0.0.1', 'unknown')).toBe(UNKNOWN_CLIENT_IP);
    expect(behindProxy.resolve('::ffff:10.0.0.1', '198.51.100.7, _hidden, 10.0.0.2')).toBe(UNKNOWN_CLIENT_IP);
  });

  it('reads no further left than the client: what the client itself wrote there may be anything', () => {
    expect(behindProxy.resolve('10.0.0.1', 'garbage, 198.51.100.7')).toBe('198.51.100.7');
  });

  it('falls back to the peer for an empty header', () => {
    expect(behindProxy.resolve('10.0.0.1', ' , ')).toBe('10.0.0.1');
  });
});
