import { describe, expect, it } from '@jest/globals';
import { UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import type { ServerConfig } from '../config/server-config.js';
import { AdminAuthGuard } from './admin-auth.guard.js';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';

function attempt(authorization: string | undefined): {
  allowed: boolean;
  error?: unknown;
  challenge?: string;
} {
  const guard = new AdminAuthGuard({ adminToken: ADMIN_TOKEN } as ServerConfig);
  const headers: Record<string, string> = {};
  const reply = {
    header(name: string, value: string) {
      headers[name.toLowerCase()] = value;
      return reply;
    },
  };
  const context = {
    switchToHttp: () => ({
      getRequest: () => ({ headers: authorization === undefined ? {} : { authorization } }),
      getResponse: () => reply,
    }),
  } as unknown as ExecutionContext;
  try {
    return { allowed: guard.canActivate(context) };
  } catch (error) {
    return { allowed: false, error, challenge: headers['www-authenticate'] };
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
  });

  it('names invalid_token only when a bearer token was sent', () => {
    expect(attempt(undefined).challenge).not.toContain('invalid_token');
    expect(attempt('Bearer nope').challenge).toContain('error="invalid_token"');
  });
});
