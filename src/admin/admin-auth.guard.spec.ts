import { describe, expect, it } from '@jest/globals';
import { UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { ServerConfig } from '../config/server-config.js';
import { ClientAllowlist } from '../network/client-allowlist.js';
import { adminActorOf } from './admin-actor.js';
import { AdminAuthGuard } from './admin-auth.guard.js';
import { AdminKeys } from './admin-keys.js';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const OPS_KEY = 'ops-key-fedcba9876543210';

function config(overrides: Partial<ServerConfig> = {}): ServerConfig {
  return {
    adminKeys: [{ name: 'ADMIN_TOKEN', key: ADMIN_TOKEN }],
    clientAllowlist: ['127.0.0.1/32'],
    trustProxy: [],
    ...overrides,
  } as ServerConfig;
}

function attempt(
  authorization: string | undefined,
  keys = new AdminKeys(config()),
  peer: { remoteAddress?: string; forwardedFor?: string; trustProxy?: string[] } = {},
): {
  allowed: boolean;
  request: FastifyRequest;
  error?: unknown;
  challenge?: string;
} {
  const allowlist = new ClientAllowlist(config({ trustProxy: peer.trustProxy ?? [] }));
  const guard = new AdminAuthGuard(keys, allowlist);
  const headers: Record<string, string> = {};
  const reply = {
    header(name: string, value: string) {
      headers[name.toLowerCase()] = value;
      return reply;
    },
  };
  const requestHeaders: Record<string, string> = {};
  if (authorization !== undefined) requestHeaders.authorization = authorization;
  if (peer.forwardedFor !== undefined) requestHeaders['x-forwarded-for'] = peer.forwardedFor;
  const request = {
    headers: requestHeaders,
    raw: { headers: requestHeaders, socket: { remoteAddress: peer.remoteAddress ?? '127.0.0.1' } },
  } as unknown as FastifyRequest;
  const context = {
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }),
  } as unknown as ExecutionContext;
  try {
    return { allowed: guard.canActivate(context), request };
  } catch (error) {
    return { allowed: false, request, error, challenge: headers['www-authenticate'] };
  }
}

describe('AdminAuthGuard', () => {
  it('lets the admin token in', () => {
    expect(attempt(`Bearer ${ADMIN_TOKEN}`).allowed).toBe(true);
    expect(attempt(`bearer ${ADMIN_TOKEN}`).allowed).toBe(true);
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['another scheme', `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`],
    ['the scheme alone', 'Bearer'],
    ['a wrong token', 'Bearer admin-token-0123456789abcdeX'],
    ['a longer token', `Bearer ${ADMIN_TOKEN}0`],
    ['a shorter token', `Bearer ${ADMIN_TOKEN.slice(0, -1)}`],
    ['two tokens', `Bearer ${ADMIN_TOKEN} ${ADMIN_TOKEN}`],
  ])('refuses %s with 401 and a Bearer challenge', (_case, header) => {
    const result = attempt(header);
    expect(result.allowed).toBe(false);
    expect(result.error).toBeInstanceOf(UnauthorizedException);
    expect(result.challenge).toMatch(/^Bearer realm="/);
    // The answer never repeats what was sent.
    expect(JSON.stringify((result.error as UnauthorizedException).getResponse())).not.toContain(
      ADMIN_TOKEN.slice(0, 12),
    );
    expect(adminActorOf(result.request)).toBeUndefined();
  });

  it('names invalid_token only when a bearer token was sent', () => {
    expect(attempt(undefined).challenge).not.toContain('invalid_token');
    expect(attempt('Bearer nope').challenge).toContain('error="invalid_token"');
  });

  it('lets every admin key in and tells the request which one it was, with the client IP', () => {
    const keys = new AdminKeys(
      config({
        adminKeys: [
          { name: 'ADMIN_TOKEN', key: ADMIN_TOKEN },
          { name: 'ops', key: OPS_KEY },
        ],
      }),
    );
    const viaToken = attempt(`Bearer ${ADMIN_TOKEN}`, keys, { remoteAddress: '::ffff:10.1.2.3' });
    const viaOps = attempt(`Bearer ${OPS_KEY}`, keys, { remoteAddress: '::1' });
    expect(viaToken.allowed).toBe(true);
    expect(adminActorOf(viaToken.request)).toEqual({ keyName: 'ADMIN_TOKEN', ip: '10.1.2.3' });
    expect(viaOps.allowed).toBe(true);
    expect(adminActorOf(viaOps.request)).toEqual({ keyName: 'ops', ip: '::1' });
  });

  it('takes the client IP from X-Forwarded-For only behind a trusted proxy (TRUST_PROXY)', () => {
    const auth = `Bearer ${ADMIN_TOKEN}`;
    const forwarded = { remoteAddress: '10.0.0.2', forwardedFor: '203.0.113.9' };
    expect(adminActorOf(attempt(auth, undefined, forwarded).request)?.ip).toBe('10.0.0.2');
    expect(
      adminActorOf(attempt(auth, undefined, { ...forwarded, trustProxy: ['10.0.0.0/8'] }).request)?.ip,
    ).toBe('203.0.113.9');
  });

  it('follows AdminKeys.replace: a dropped key is refused at once, a new one accepted', () => {
    const keys = new AdminKeys(config());
    keys.replace([{ name: 'ops', key: OPS_KEY }]);
    expect(attempt(`Bearer ${ADMIN_TOKEN}`, keys).allowed).toBe(false);
    expect(attempt(`Bearer ${OPS_KEY}`, keys).allowed).toBe(true);
  });
});

describe('AdminKeys', () => {
  it('names the key a bearer value is, and nothing for any other value', () => {
    const keys = new AdminKeys(
      config({
        adminKeys: [
          { name: 'old', key: ADMIN_TOKEN },
          { name: 'new', key: OPS_KEY },
        ],
      }),
    );
    expect(keys.nameOf(ADMIN_TOKEN)).toBe('old');
    expect(keys.nameOf(OPS_KEY)).toBe('new');
    expect(keys.nameOf('')).toBeUndefined();
    expect(keys.nameOf(`${OPS_KEY} `)).toBeUndefined();
    expect(keys.names).toEqual(['old', 'new']);
  });

  it('refuses to be left without a key (that would lock every admin out)', () => {
    const keys = new AdminKeys(config());
    expect(() => keys.replace([])).toThrow(/at least one/);
    expect(keys.nameOf(ADMIN_TOKEN)).toBe('ADMIN_TOKEN');
  });
});
