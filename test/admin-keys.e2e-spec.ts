import { afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AdminKeys } from '../src/admin/admin-keys.js';
import { AuditDetailsError } from '../src/audit/audit-details.js';
import { AuditLog, type AdminActor } from '../src/audit/audit-log.js';
import { reloadAdminKeys } from '../src/bootstrap.js';
import type { Env } from '../src/config/parse-server-config.js';
import { callAdmin, type AdminAnswer } from './support/admin-http.js';
import { queryDatabase } from './support/database.js';
import { leakedSecrets } from './support/leaks.js';
import {
  fixtureAccount,
  fixtureTickets,
  fixtureTokens,
  startServerFixture,
  waitForFirstTickets,
  waitForFirstTokens,
  type ServerFixture,
} from './support/server-fixture.js';

// Issue 12, admin keys and audit: several admin keys at once, each named in
// the audit; every forced refresh (refused and failed ones too) leaves a row
// with the key's name and the client's IP, never a secret; the audit reads
// back keyset-paged. The SIGHUP reload of a real process: cluster/admin-keys.e2e-spec.ts.

const OPS_KEY = `ops-${randomBytes(16).toString('hex')}`;

interface AuditRow {
  id: string;
  admin_key_name: string;
  client_ip: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
  at: Date;
}

function auditRows(fixture: ServerFixture): Promise<AuditRow[]> {
  return queryDatabase<AuditRow>(
    fixture.databaseUrl,
    'SELECT id::text AS id, admin_key_name, client_ip, action, target, details, at FROM admin_audit ORDER BY id',
  );
}

function as(key: string): { auth: string } {
  return { auth: `Bearer ${key}` };
}

describe('admin keys and audit', () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('accepts ADMIN_TOKEN and every ADMIN_TOKENS key, and nothing else', async () => {
    const second = `second-${randomBytes(12).toString('hex')}`;
    fixture = await startServerFixture({ env: { ADMIN_TOKENS: `ops:${OPS_KEY}, second:${second}` } });
    for (const key of [fixture.adminToken, OPS_KEY, second]) {
      expect((await callAdmin(fixture, '/admin/accounts', as(key))).status).toBe(200);
    }
    for (const key of [`${OPS_KEY}x`, 'ops', `ops:${OPS_KEY}`, OPS_KEY.slice(0, -1)]) {
      const answer = await callAdmin(fixture, '/admin/accounts', as(key));
      expect(answer.status).toBe(401);
      expect(answer.body.message).toBe(
        'The bearer token is not an admin key of this server (ADMIN_TOKEN / ADMIN_TOKENS).',
      );
      expect(answer.text).not.toContain(OPS_KEY.slice(0, 12));
    }
  });

  it('runs on ADMIN_TOKENS alone (no ADMIN_TOKEN)', async () => {
    fixture = await startServerFixture({ env: { ADMIN_TOKEN: undefined, ADMIN_TOKENS: `ops:${OPS_KEY}` } });
    expect((await callAdmin(fixture, '/admin/accounts', as(OPS_KEY))).status).toBe(200);
    expect((await callAdmin(fixture, '/admin/accounts', as(fixture.adminToken))).status).toBe(401);
  });

  it('records every forced refresh of a token or ticket with the key name and client IP, never a secret', async () => {
    const account = fixtureAccount('token', ['jsapi', 'wx_card']);
    fixture = await startServerFixture({ accounts: [account], env: { ADMIN_TOKENS: `ops:${OPS_KEY}` } });
    await waitForFirstTokens(fixture);
    await waitForFirstTickets(fixture);
    const { appId } = account;
    const current = (await callAdmin(fixture, `/admin/accounts/${appId}`)).body as { tokenId: string };
    const [firstToken] = await fixtureTokens(fixture);

    // A stale-token report of a token that still works: checked, nothing fetched.
    const checked = await callAdmin(fixture, `/admin/accounts/${appId}/refresh`, {
      ...as(OPS_KEY),
      json: { staleToken: firstToken },
    });
    expect(checked.status).toBe(200);
    expect(checked.body.refresh).toBe('still_works');
    // Forced: fetched.
    const forced = await callAdmin(fixture, `/admin/accounts/${appId}/refresh`, {
      ...as(fixture.adminToken),
      json: { force: true },
    });
    expect(forced.status).toBe(200);
    expect(forced.body.refresh).toBe('fetched');
    // Forced again at once: refused (FORCE_REFRESH_MIN_INTERVAL_SECONDS), recorded all the same.
    const refused = await callAdmin(fixture, `/admin/accounts/${appId}/refresh`, {
      ...as(OPS_KEY),
      json: { force: true },
    });
    expect(refused.status).toBe(429);
    // A ticket, fetched.
    const ticket = await callAdmin(fixture, `/admin/accounts/${appId}/tickets/jsapi/refresh`, {
      ...as(OPS_KEY),
      method: 'POST',
    });
    expect(ticket.status).toBe(200);
    // A ticket refresh WeChat answers with an error: failed, recorded with WeChat's errcode.
    fixture.sandbox.injectFault({ endpoint: 'getticket', errcode: 40164, appId });
    const failed = await callAdmin(fixture, `/admin/accounts/${appId}/tickets/wx_card/refresh`, {
      ...as(fixture.adminToken),
      method: 'POST',
    });
    expect(failed.status).toBe(502);
    // An account that does not exist: refused, recorded.
    const unknown = await callAdmin(fixture, '/admin/accounts/wx0000000000000000/refresh', {
      ...as(OPS_KEY),
      method: 'POST',
    });
    expect(unknown.status).toBe(404);
    // Malformed input never reaches the write: nothing to record.
    const malformed = await callAdmin(fixture, `/admin/accounts/${appId}/refresh`, {
      ...as(OPS_KEY),
      json: { force: 'yes' },
    });
    expect(malformed.status).toBe(400);
    // Refused by the guard: no actor, nothing recorded.
    expect(
      (await callAdmin(fixture, `/admin/accounts/${appId}/refresh`, { auth: null, method: 'POST' })).status,
    ).toBe(401);

    const rows = await auditRows(fixture);
    const tokenIds = await queryDatabase<{ id: string }>(
      fixture.databaseUrl,
      'SELECT id::text AS id FROM access_token ORDER BY id DESC LIMIT 1',
    );
    const ticketIds = await queryDatabase<{ id: string }>(
      fixture.databaseUrl,
      "SELECT id::text AS id FROM wechat_ticket WHERE type = 'jsapi' ORDER BY id DESC LIMIT 1",
    );
    expect(
      rows.map(({ admin_key_name, client_ip, action, target, details }) => ({
        admin_key_name,
        client_ip,
        action,
        target,
        details,
      })),
    ).toEqual([
      {
        admin_key_name: 'ops',
        client_ip: '127.0.0.1',
        action: 'token.refresh',
        target: appId,
        details: { force: false, staleTokenGiven: true, outcome: 'still_works', tokenId: current.tokenId },
      },
      {
        admin_key_name: 'ADMIN_TOKEN',
        client_ip: '127.0.0.1',
        action: 'token.refresh',
        target: appId,
        details: { force: true, staleTokenGiven: false, outcome: 'fetched', tokenId: tokenIds[0].id },
      },
      {
        admin_key_name: 'ops',
        client_ip: '127.0.0.1',
        action: 'token.refresh',
        target: appId,
        details: {
          force: true,
          staleTokenGiven: false,
          outcome: 'refused',
          error: 'REFRESH_REFUSED',
          reason: 'min_interval',
        },
      },
      {
        admin_key_name: 'ops',
        client_ip: '127.0.0.1',
        action: 'ticket.refresh',
        target: `${appId}/jsapi`,
        details: { outcome: 'fetched', ticketId: ticketIds[0].id },
      },
      {
        admin_key_name: 'ADMIN_TOKEN',
        client_ip: '127.0.0.1',
        action: 'ticket.refresh',
        target: `${appId}/wx_card`,
        details: { outcome: 'failed', error: 'WECHAT_API_ERROR', errcode: 40164 },
      },
      {
        admin_key_name: 'ops',
        client_ip: '127.0.0.1',
        action: 'token.refresh',
        target: 'wx0000000000000000',
        details: { force: false, staleTokenGiven: false, outcome: 'refused', error: 'UNKNOWN_ACCOUNT' },
      },
    ]);
    for (const row of rows) expect(Date.now() - row.at.getTime()).toBeLessThan(60_000);

    // No secret, key, token or ticket anywhere in the table, nor in GET /admin/audit.
    const table = JSON.stringify(await queryDatabase(fixture.databaseUrl, 'SELECT * FROM admin_audit'));
    const served = (await callAdmin(fixture, '/admin/audit', as(OPS_KEY))).text;
    const secrets: Record<string, string> = {
      AppSecret: account.secret,
      ADMIN_TOKEN: fixture.adminToken,
      'the ops key': OPS_KEY,
    };
    for (const [index, token] of (await fixtureTokens(fixture)).entries()) secrets[`token ${index}`] = token;
    for (const [index, value] of (await fixtureTickets(fixture)).entries())
      secrets[`ticket ${index}`] = value;
    expect(leakedSecrets({ admin_audit: table, 'GET /admin/audit': served }, secrets)).toEqual([]);
  });

  it('pages the audit newest first by id (limit, before → nextBefore), behind the admin key', async () => {
    fixture = await startServerFixture({ env: { ADMIN_TOKENS: `ops:${OPS_KEY}` } });
    const audit = fixture.app.get(AuditLog);
    const actor: AdminActor = { keyName: 'ops', ip: '10.0.0.7' };
    // Twelve rows: ids 9 and 10 must sort as numbers (by their text, "9" would come first).
    for (let i = 1; i <= 12; i++) {
      await audit.record({ actor, action: 'client.update', target: `client-${i}`, details: { n: i } });
    }
    const seen: string[] = [];
    let before: string | null = null;
    let pages = 0;
    do {
      const query: string = `?limit=5${before ? `&before=${before}` : ''}`;
      const page: AdminAnswer = await callAdmin(fixture, `/admin/audit${query}`, as(OPS_KEY));
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(5);
      seen.push(...page.body.items.map((item: { target: string }) => item.target));
      before = page.body.nextBefore;
      pages++;
    } while (before !== null && pages < 10);
    expect(seen).toEqual(Array.from({ length: 12 }, (_, n) => `client-${12 - n}`));
    expect(pages).toBe(3);

    const newest = await callAdmin(fixture, '/admin/audit?limit=1', as(OPS_KEY));
    expect(newest.body).toEqual({
      items: [
        {
          id: expect.stringMatching(/^[1-9][0-9]*$/),
          at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          adminKeyName: 'ops',
          clientIp: '10.0.0.7',
          action: 'client.update',
          target: 'client-12',
          details: { n: 12 },
        },
      ],
      nextBefore: newest.body.items[0].id,
    });
    expect((await callAdmin(fixture, '/admin/audit?limit=0', as(OPS_KEY))).status).toBe(400);
    expect((await callAdmin(fixture, '/admin/audit?before=abc', as(OPS_KEY))).status).toBe(400);
    expect((await callAdmin(fixture, '/admin/audit', { auth: null })).status).toBe(401);
    // Reading is not a write: still twelve rows.
    expect(await auditRows(fixture)).toHaveLength(12);
  });

  it('records inside the caller transaction, and refuses details that look like a credential', async () => {
    fixture = await startServerFixture();
    const audit = fixture.app.get(AuditLog);
    const dataSource = fixture.app.get(DataSource);
    const actor: AdminActor = { keyName: 'ADMIN_TOKEN', ip: '127.0.0.1' };
    // Rolled back with the write it belongs to.
    await expect(
      dataSource.transaction(async (manager) => {
        await audit.record({ actor, action: 'account.create', target: 'wx1111111111111111' }, manager);
        throw new Error('the write failed');
      }),
    ).rejects.toThrow('the write failed');
    await dataSource.transaction((manager) =>
      audit.record({ actor, action: 'account.update', target: 'wx2222222222222222' }, manager),
    );
    for (const details of [
      { secret: 'abc' },
      { staleToken: 'abc' },
      { changes: { appSecret: 'abc' } },
      { client_key: ['abc'] },
    ]) {
      await expect(
        audit.record({ actor, action: 'account.update', target: 'wx2222222222222222', details }),
      ).rejects.toBeInstanceOf(AuditDetailsError);
    }
    expect((await auditRows(fixture)).map((row) => [row.action, row.target, row.details])).toEqual([
      ['account.update', 'wx2222222222222222', {}],
    ]);
  });

  it('reloads the keys as a SIGHUP does: a dropped key is refused, a bad value keeps the keys in use', async () => {
    fixture = await startServerFixture({ env: { ADMIN_TOKENS: `ops:${OPS_KEY}` } });
    const keys = fixture.app.get(AdminKeys);
    const next = `next-${randomBytes(16).toString('hex')}`;
    const env = (tokens: string): Env => ({ ADMIN_TOKEN: fixture!.adminToken, ADMIN_TOKENS: tokens });

    expect(reloadAdminKeys(keys, () => env(`next:${next}`), {})).toBe(true);
    expect((await callAdmin(fixture, '/admin/accounts', as(OPS_KEY))).status).toBe(401);
    expect((await callAdmin(fixture, '/admin/accounts', as(next))).status).toBe(200);
    expect((await callAdmin(fixture, '/admin/accounts', as(fixture.adminToken))).status).toBe(200);

    for (const bad of ['next:too-short', `${next}`, `a:${next},b:${next}`]) {
      expect(reloadAdminKeys(keys, () => env(bad), {})).toBe(false);
      expect((await callAdmin(fixture, '/admin/accounts', as(next))).status).toBe(200);
    }
    expect(keys.names).toEqual(['ADMIN_TOKEN', 'next']);
    const logs = fixture.logs.lines.join('\n');
    expect(logs).toContain('Admin keys reloaded: names ADMIN_TOKEN, next');
    expect(logs).toContain(
      'Admin keys not reloaded: ADMIN_TOKENS: key "next" is too short (9 characters; at least 16',
    );
    expect(logs).toContain('The keys in use stay: names ADMIN_TOKEN, next');
    expect(
      leakedSecrets(
        { logs },
        { ADMIN_TOKEN: fixture.adminToken, 'the ops key': OPS_KEY, 'the next key': next },
      ),
    ).toEqual([]);
  });
});
