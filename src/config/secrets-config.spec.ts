import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { ConfigError } from './config-error.js';
import { parseServerConfig, type Env } from './parse-server-config.js';

const ADMIN = 'admin-token-0123456789';
const key = (): string => randomBytes(32).toString('base64');

function failure(env: Env): ConfigError {
  try {
    parseServerConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseServerConfig: secrets at rest and runtime accounts', () => {
  it('reads SECRETS_KEY and SECRETS_KEY_PREVIOUS as 32-byte keys', () => {
    const current = key();
    const previous = key();
    const config = parseServerConfig({
      ADMIN_TOKEN: ADMIN,
      SECRETS_KEY: current,
      SECRETS_KEY_PREVIOUS: previous,
    });
    expect(config.secretsKeys?.current.equals(Buffer.from(current, 'base64'))).toBe(true);
    expect(config.secretsKeys?.previous?.equals(Buffer.from(previous, 'base64'))).toBe(true);
  });

  it('lets WECHAT_ACCOUNTS be unset only with SECRETS_KEY (accounts then come from the API)', () => {
    expect(parseServerConfig({ ADMIN_TOKEN: ADMIN, SECRETS_KEY: key() }).token.accounts).toEqual([]);
    expect(failure({ ADMIN_TOKEN: ADMIN }).message).toMatch(/WECHAT_ACCOUNTS: missing; .*SECRETS_KEY/);
  });

  it.each([
    [{ SECRETS_KEY: 'short' }, 'SECRETS_KEY', 'must be 32 bytes in base64'],
    [{ SECRETS_KEY: randomBytes(16).toString('base64') }, 'SECRETS_KEY', 'must be 32 bytes'],
    [{ SECRETS_KEY: `${key().slice(0, -2)}!=` }, 'SECRETS_KEY', 'must be 32 bytes'],
    [{ SECRETS_KEY_PREVIOUS: key() }, 'SECRETS_KEY_PREVIOUS', 'is set without SECRETS_KEY'],
    [{ ALLOW_APPSECRET_CLIENTS: 'maybe' }, 'ALLOW_APPSECRET_CLIENTS', 'must be true or false'],
    [{ RUNTIME_SYNC_MS: '5000' }, 'RUNTIME_SYNC_MS', 'from 100 to 2000'],
  ])('refuses %j, naming %s', (env, variable, problem) => {
    const error = failure({ WECHAT_ACCOUNTS: 'wx1:s', ADMIN_TOKEN: ADMIN, ...env });
    expect(error.variable).toBe(variable);
    expect(error.problem).toContain(problem);
    // A key is never repeated in the message.
    for (const value of Object.values(env)) if (value.length > 8) expect(error.message).not.toContain(value);
  });

  it('refuses the same key as SECRETS_KEY and SECRETS_KEY_PREVIOUS', () => {
    const same = key();
    expect(
      failure({ WECHAT_ACCOUNTS: 'wx1:s', ADMIN_TOKEN: ADMIN, SECRETS_KEY: same, SECRETS_KEY_PREVIOUS: same })
        .message,
    ).toMatch(/SECRETS_KEY_PREVIOUS: is the same key/);
  });

  it('defaults ALLOW_APPSECRET_CLIENTS to true and RUNTIME_SYNC_MS to 1000', () => {
    const config = parseServerConfig({ WECHAT_ACCOUNTS: 'wx1:s', ADMIN_TOKEN: ADMIN });
    expect([config.allowAppSecretClients, config.runtimeSyncMs, config.secretsKeys]).toEqual([
      true,
      1000,
      undefined,
    ]);
    expect(
      parseServerConfig({ WECHAT_ACCOUNTS: 'wx1:s', ADMIN_TOKEN: ADMIN, ALLOW_APPSECRET_CLIENTS: 'false' })
        .allowAppSecretClients,
    ).toBe(false);
  });
});
