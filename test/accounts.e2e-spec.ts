import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SecretBox, secretKeyId, WechatTokenService } from 'nestjs-wechat-token';
import { WechatSandbox } from 'nestjs-wechat-token/testing';
import { callAdmin } from './support/admin-http.js';
import { queryDatabase, tablesContaining } from './support/database.js';
import { leakedSecrets } from './support/leaks.js';
import {
  fixtureAccount,
  startServerFixture,
  waitForFirstTokens,
  type ServerFixture,
} from './support/server-fixture.js';
import { killAllSpawned, runCommand } from './support/spawned-process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const newKey = (): string => randomBytes(32).toString('base64');

/**
 * Issue 12, test 2: accounts added through the admin API keep their
 * AppSecret sealed under SECRETS_KEY (and the stored tokens with it); a
 * missing or wrong key stops the start with a message naming it; a rotation
 * with SECRETS_KEY_PREVIOUS re-seals every row; the plaintext secret is in
 * no table, log line or answer.
 */
describe('Accounts through the admin API, secrets sealed at rest', () => {
  const fixtures: ServerFixture[] = [];
  const workDir = mkdtempSync(join(tmpdir(), 'wxtoken-rotate-'));

  afterEach(async () => {
    await Promise.all(fixtures.splice(0).map((fixture) => fixture.close()));
  });

  afterAll(() => {
    killAllSpawned();
    rmSync(workDir, { recursive: true, force: true });
  });

  async function start(env: Record<string, string | undefined>): Promise<ServerFixture> {
    const fixture = await startServerFixture({ env });
    fixtures.push(fixture);
    return fixture;
  }

  /** Adds a sandbox-known account through the API; returns it. */
  async function addAccount(fixture: ServerFixture): Promise<{ appId: string; secret: string }> {
    const account = WechatSandbox.randomAccount();
    fixture.sandbox.addAccount(account);
    const created = await callAdmin(fixture, '/admin/accounts', { json: { ...account, tickets: ['jsapi'] } });
    expect(created.status).toBe(201);
    return account;
  }

  async function tokenOf(
    fixture: ServerFixture,
    account: { appId: string; secret: string },
  ): Promise<string> {
    const query = new URLSearchParams({
      grant_type: 'client_credential',
      appid: account.appId,
      secret: account.secret,
    });
    for (let i = 0; i < 100; i++) {
      const body = (await (await fetch(`${fixture.baseUrl}/cgi-bin/token?${query}`)).json()) as {
        access_token?: string;
      };
      if (body.access_token) return body.access_token;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no token for ${account.appId}`);
  }

  it('refuses API accounts without SECRETS_KEY, saying what to set', async () => {
    const fixture = await start({});
    const answer = await callAdmin(fixture, '/admin/accounts', { json: WechatSandbox.randomAccount() });
    expect(answer.status).toBe(409);
    expect(answer.body.message).toContain('SECRETS_KEY');
  });

  it('seals the secret, the tokens and the tickets, and shows neither in a table, a log line or an answer', async () => {
    const fixture = await start({ SECRETS_KEY: newKey() });
    const account = await addAccount(fixture);
    const token = await tokenOf(fixture, account);
    expect(fixture.sandbox.tokenState(token)).toBe('live');
    await waitForFirstTokens(fixture);
    const service = fixture.app.get(WechatTokenService);
    const ticket = await service.getTicket(account.appId, 'jsapi');

    const settings = await callAdmin(fixture, '/admin/account-settings');
    expect(settings.body).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ appId: account.appId, source: 'api', enabled: true, tickets: ['jsapi'] }),
        expect.objectContaining({ appId: fixture.accounts[0].appId, source: 'env', enabled: true }),
      ]),
    );
    // The search finds what is stored in plain text (the appId), so an empty answer means something.
    expect(await tablesContaining(fixture.databaseUrl, account.appId)).toEqual(
      expect.arrayContaining(['wechat_account', 'access_token']),
    );
    for (const [name, value] of Object.entries({ secret: account.secret, token, ticket })) {
      expect([name, await tablesContaining(fixture.databaseUrl, value)]).toEqual([name, []]);
    }
    const [stored] = await queryDatabase<{ access_token: string; token_preview: string }>(
      fixture.databaseUrl,
      'SELECT access_token, token_preview FROM access_token WHERE app_id = $1',
      [account.appId],
    );
    expect(stored.access_token.startsWith('wtk1.')).toBe(true);
    expect(stored.token_preview).toBe(`${token.slice(0, 4)}…${token.slice(-4)}`);
    const places = {
      logs: fixture.logs.lines.join('\n'),
      settings: settings.text,
      status: (await callAdmin(fixture, `/admin/accounts/${account.appId}`)).text,
      history: (await callAdmin(fixture, `/admin/accounts/${account.appId}/history`)).text,
      audit: (await callAdmin(fixture, '/admin/audit')).text,
    };
    expect(leakedSecrets(places, { AppSecret: account.secret })).toEqual([]);
  });

  it('answers bad input with 400, a second POST with 409, an unknown account with 404', async () => {
    const fixture = await start({ SECRETS_KEY: newKey() });
    const account = await addAccount(fixture);
    const cases: [string, string, unknown, number, RegExp][] = [
      ['POST', '/admin/accounts', { appId: 'x y', secret: 's' }, 400, /appId/],
      ['POST', '/admin/accounts', { appId: 'wx1' }, 400, /secret/],
      ['POST', '/admin/accounts', { appId: 'wx1', secret: 'a b' }, 400, /whitespace/],
      ['POST', '/admin/accounts', { appId: 'wx1', secret: 's', mode: 'fast' }, 400, /mode/],
      ['POST', '/admin/accounts', { appId: 'wx1', secret: 's', tickets: ['jsapi', 'jsapi'] }, 400, /tickets/],
      [
        'POST',
        '/admin/accounts',
        { appId: 'wx1', secret: 's', secrt: 's' },
        400,
        /a field an account does not have/,
      ],
      ['POST', '/admin/accounts', [], 400, /body/],
      ['POST', '/admin/accounts', account, 409, /exists/],
      ['PATCH', `/admin/accounts/${account.appId}`, {}, 400, /Nothing to change/],
      ['PATCH', `/admin/accounts/${account.appId}`, { enabled: 'no' }, 400, /enabled/],
      ['PATCH', '/admin/accounts/wx0000000000000000', { enabled: true }, 404, /POST \/admin\/accounts/],
      ['DELETE', '/admin/accounts/wx0000000000000000', undefined, 404, /No account/],
    ];
    for (const [method, path, json, status, message] of cases) {
      const answer = await callAdmin(fixture, path, { method, ...(json !== undefined && { json }) });
      expect([method, path, answer.status, answer.body?.message]).toEqual([
        method,
        path,
        status,
        expect.stringMatching(message),
      ]);
    }
    // Nothing was lost: the account is as it was, and served.
    expect((await callAdmin(fixture, `/admin/accounts/${account.appId}`)).status).toBe(200);
    expect(fixture.sandbox.tokenState(await tokenOf(fixture, account))).toBe('live');
  });

  it('stops the start when SECRETS_KEY is missing or wrong, and rotates every row with SECRETS_KEY_PREVIOUS', async () => {
    const oldKey = newKey();
    const first = await start({ SECRETS_KEY: oldKey });
    const account = await addAccount(first);
    const token = await tokenOf(first, account);
    const databaseUrl = first.databaseUrl;
    await Promise.all(fixtures.splice(0).map((fixture) => fixture.close()));

    await expect(startServerFixture({ env: { DATABASE_URL: databaseUrl } })).rejects.toThrow(
      /SECRETS_KEY: missing; 1 account\(s\) were added through the admin API/,
    );
    await expect(
      startServerFixture({ env: { DATABASE_URL: databaseUrl, SECRETS_KEY: newKey() } }),
    ).rejects.toThrow(/SECRETS_KEY: wrong key; .* neither SECRETS_KEY nor SECRETS_KEY_PREVIOUS/);

    const key = newKey();
    const rotation = await runCommand(process.execPath, [join(ROOT, 'dist/src/accounts/rotate-secrets.js')], {
      cwd: workDir,
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: databaseUrl,
        SECRETS_KEY: key,
        SECRETS_KEY_PREVIOUS: oldKey,
      },
      timeoutMs: 60_000,
    });
    expect(rotation.code).toBe(0);
    expect(rotation.stdout + rotation.stderr).toMatch(/1 AppSecret\(s\), [1-9]\d* token\(s\)/);
    expect(
      leakedSecrets(
        { output: rotation.stdout + rotation.stderr },
        { AppSecret: account.secret, key, oldKey },
      ),
    ).toEqual([]);
    const keyIds = await queryDatabase<{ id: string }>(
      databaseUrl,
      `SELECT secret_key_id AS id FROM wechat_account WHERE source = 'api'
       UNION SELECT split_part(access_token, '.', 2) FROM access_token
       UNION SELECT split_part(ticket, '.', 2) FROM wechat_ticket`,
    );
    expect(keyIds.map((row) => row.id)).toEqual([secretKeyId(Buffer.from(key, 'base64'))]);
    const audit = await queryDatabase<{ admin_key_name: string; action: string }>(
      databaseUrl,
      `SELECT admin_key_name, action FROM admin_audit ORDER BY id`,
    );
    expect(audit).toEqual([
      expect.objectContaining({ action: 'account.create' }),
      { admin_key_name: 'secrets:rotate', action: 'secrets.rotate' },
    ]);

    // The new key alone opens everything: the same token is served after the restart.
    const restarted = await start({ DATABASE_URL: databaseUrl, SECRETS_KEY: key });
    restarted.sandbox.addAccount(account);
    expect(await tokenOf(restarted, account)).toBe(token);
  }, 60_000);

  it('reads the other accounts when one stored token does not open, and says which key it needs', async () => {
    const fixture = await startServerFixture({
      accounts: [fixtureAccount(), fixtureAccount()],
      env: { SECRETS_KEY: newKey() },
    });
    fixtures.push(fixture);
    await waitForFirstTokens(fixture);
    const [broken, healthy] = fixture.accounts;
    const service = fixture.app.get(WechatTokenService);
    const held = await service.getAccessToken(broken.appId);
    // A newer row sealed under a key this replica does not have (a replica started with another key).
    const strangerKey = randomBytes(32);
    const sealed = new SecretBox({ current: strangerKey }).seal(
      'x'.repeat(40),
      `access_token:${broken.appId}`,
    );
    await queryDatabase(
      fixture.databaseUrl,
      `INSERT INTO access_token (app_id, access_token, fetched_at, expires_at, source, mode)
       VALUES ($1, $2, now(), now() + interval '2 hours', 'schedule', 'token')`,
      [broken.appId, sealed],
    );
    await service.resync();
    // The other account is read and served as before; the one that does not open keeps its held token.
    expect((await service.status(healthy.appId)).usable).toBe(true);
    expect(await service.getAccessToken(broken.appId)).toBe(held);
    expect(fixture.logs.lines.join('\n')).toContain(
      `under key ${secretKeyId(strangerKey)}, which is neither the current nor the previous key`,
    );
    // Inside the lock it is not "the database is down": the answer names the sealed value.
    const forced = await callAdmin(fixture, `/admin/accounts/${broken.appId}/refresh`, {
      json: { force: true },
    });
    expect(forced.status).toBe(503);
    expect(forced.body.message).toMatch(/A stored value cannot be opened .* encryptionKeys/);
  });

  it('lets the API take over an account removed from WECHAT_ACCOUNTS, and only then', async () => {
    const key = newKey();
    const first = await start({ SECRETS_KEY: key });
    const [fromEnv] = first.accounts;
    const refused = await callAdmin(first, '/admin/accounts', {
      json: { appId: fromEnv.appId, secret: fromEnv.secret },
    });
    expect([refused.status, refused.body.message]).toEqual([409, expect.stringContaining('WECHAT_ACCOUNTS')]);
    await waitForFirstTokens(first);
    const held = await first.app.get(WechatTokenService).getAccessToken(fromEnv.appId);
    const databaseUrl = first.databaseUrl;
    await Promise.all(fixtures.splice(0).map((fixture) => fixture.close()));

    // Restarted without it in WECHAT_ACCOUNTS: its row is left behind, and the API may now manage it.
    const second = await start({ DATABASE_URL: databaseUrl, SECRETS_KEY: key });
    second.sandbox.addAccount(fromEnv);
    const patched = await callAdmin(second, `/admin/accounts/${fromEnv.appId}`, {
      method: 'PATCH',
      json: { enabled: false },
    });
    expect([patched.status, patched.body.message]).toEqual([
      409,
      expect.stringContaining('POST /admin/accounts'),
    ]);
    const taken = await callAdmin(second, '/admin/accounts', {
      json: { appId: fromEnv.appId, secret: fromEnv.secret },
    });
    expect([taken.status, taken.body.source]).toEqual([201, 'api']);
    // Served again, with the token it held (still valid, fetched when it came from the environment).
    expect(await tokenOf(second, fromEnv)).toBe(held);
  });
});
