import { describe, expect, it } from '@jest/globals';
import { AuditDetailsError, assertNoCredentials } from './audit-details.js';

describe('assertNoCredentials', () => {
  it.each([
    [{ force: true, staleTokenGiven: false, outcome: 'fetched', tokenId: '42' }],
    [{ staleToken: true, secretChanged: true, keyRotated: 3 }],
    [{ tokenId: '7', ticketIds: ['1', '2'], keyName: 'ops', secretsKeyId: 'k2' }],
    [{ changed: ['secret', 'mode'], appIds: ['wx1'], cidrs: ['10.0.0.0/8'] }],
    [{ name: 'ci-deployer', enabled: false, nested: { mode: 'stable' } }],
  ])('lets %j through: flags, counts, ids and names', (details) => {
    expect(() => assertNoCredentials(details)).not.toThrow();
  });

  it.each([
    [{ secret: 'abc' }, 'secret'],
    [{ appSecret: 'abc' }, 'appSecret'],
    [{ staleToken: 'abc' }, 'staleToken'],
    [{ access_token: 'abc' }, 'access_token'],
    [{ key: 'abc' }, 'key'],
    [{ password: 'abc' }, 'password'],
    [{ before: { secret: 'abc' } }, 'before.secret'],
    [{ clientKeys: ['abc'] }, 'clientKeys'],
    [{ changes: [{ token: 'abc' }] }, 'changes.0.token'],
  ])('refuses %j, naming the field %s but not its value', (details, path) => {
    let error: unknown;
    try {
      assertNoCredentials(details);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AuditDetailsError);
    expect((error as AuditDetailsError).path).toBe(path);
    expect((error as Error).message).toContain(`"${path}"`);
    expect((error as Error).message).not.toContain('abc');
  });
});
