import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withEnvFile } from './env-file.js';
import { parseServerConfig } from './parse-server-config.js';

describe('withEnvFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wxt-env-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, '.env');
  writeFileSync(file, '# comment\nPORT=4000\nHOST="127.0.0.1"\nADMIN_TOKEN=from-the-file-0123\n');

  it('adds the file underneath the environment: the environment wins', () => {
    expect(withEnvFile({ PORT: '5000', OTHER: 'x' }, file)).toEqual({
      PORT: '5000',
      HOST: '127.0.0.1',
      ADMIN_TOKEN: 'from-the-file-0123',
      OTHER: 'x',
    });
  });

  it('lets an empty variable in the environment win too (it counts as unset later)', () => {
    expect(withEnvFile({ PORT: '' }, file).PORT).toBe('');
  });

  it('adds nothing when the file does not exist', () => {
    expect(withEnvFile({ PORT: '1' }, join(dir, 'missing.env'))).toEqual({ PORT: '1' });
  });
});

describe('.env.example', () => {
  it('is a valid configuration once ADMIN_TOKEN is filled in, and shows the defaults', () => {
    const example = join(fileURLToPath(new URL('../..', import.meta.url)), '.env.example');
    const config = parseServerConfig(withEnvFile({ ADMIN_TOKEN: 'admin-token-0123456789' }, example));
    const defaults = parseServerConfig({ WECHAT_ACCOUNTS: 'wx1:s', ADMIN_TOKEN: 'admin-token-0123456789' });

    expect(config.token.accounts.map(({ mode }) => mode)).toEqual(['stable', 'token']);
    expect({ ...config, token: { ...config.token, accounts: [] } }).toEqual({
      ...defaults,
      token: { ...defaults.token, accounts: [] },
    });
  });
});
