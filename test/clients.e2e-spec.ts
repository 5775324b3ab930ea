import { afterEach, describe, expect, it } from '@jest/globals';
import { WechatTokenService } from 'nestjs-wechat-token';
import { HANDOUT_FLUSH_MS, HandoutRecorder } from '../src/clients/handout-recorder.js';
import { callAdmin as call, type AdminAnswer } from './support/admin-http.js';
import { queryDatabase } from './support/database.js';
import { leakedSecrets } from './support/leaks.js';
import {
  fixtureAccount,
  startServerFixture,
  type ServerFixture,
  waitForFirstTokens,
} from './support/server-fixture.js';
import { RID, sendWechat, type WechatHttpAnswer } from './support/wechat-http.js';

// Issue 12: clients with their own keys, on the real server (Fastify, Postgres, the WeChat sandbox).

const KEY = /^wtc_([1-9][0-9]*)_[A-Za-z0-9_-]{43}$/;

/** POST /admin/clients, expecting 201: the client's id and its key. */
async function createClient(
  fixture: ServerFixture,
  body: { name: string; appIds: string[]; cidrs?: string[] },
): Promise<{ id: number; key: string; answer: AdminAnswer }> {
  const answer = await call(fixture, '/admin/clients', { json: body });
  expect({ status: answer.status, body: answer.body }).toEqual({ status: 201, body: expect.anything() });
  return { id: answer.body.id, key: answer.body.key, answer };
}

/** GET /cgi-bin/token with `secret`, optionally posing as another IP through X-Forwarded-For (needs TRUST_PROXY). */
function token(fixture: ServerFixture, appId: string, secret: string, forwardedFor?: string) {
  const query = new URLSearchParams({ grant_type: 'client_credential', appid: appId, secret });
  return sendWechat(`${fixture.baseUrl}/cgi-bin/token?${query}`, {
    headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
  });
}

function stableToken(fixture: ServerFixture, appId: string, secret: string): Promise<WechatHttpAnswer> {
  return sendWechat(`${fixture.baseUrl}/cgi-bin/stable_token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credential', appid: appId, secret }),
  });
}

function query<T>(fixture: ServerFixture, sql: string, params: unknown[] = []): Promise<T[]> {
  return queryDatabase<T>(fixture.databaseUrl, sql, params);
}

/** Every row of every table of the fixture's database, as text (`bytea` as hex): where a key must not be. */
async function everyTableAsText(fixture: ServerFixture): Promise<Record<string, string>> {
  const tables = await query<{ name: string }>(
    fixture,
    "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
  );
  const places: Record<string, string> = {};
  for (const { name } of tables) {
    const rows = await query<{ row: string }>(fixture, `SELECT t::text AS row FROM "${name}" t`);
    places[`table ${name}`] = rows.map((row) => row.row).join('\n');
  }
  return places;
}

async function servedTokenId(fixture: ServerFixture, appId: string): Promise<string> {
  return (await fixture.app.get(WechatTokenService).getServedToken(appId)).tokenId;
}

describe('clients with their own keys', () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('hands the token to a new key through /cgi-bin/token and stable_token, only for its accounts, until revoked', async () => {
    const [mine, other] = [fixtureAccount(), fixtureAccount()];
    fixture = await startServerFixture({ accounts: [mine, other] });
    await waitForFirstTokens(fixture);

    const {
      id,
      key,
      answer: created,
    } = await createClient(fixture, { name: 'billing', appIds: [mine.appId] });
    expect(created.body).toEqual({
      id: expect.any(Number),
      name: 'billing',
      appIds: [mine.appId],
      cidrs: [],
      enabled: true,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      lastUsedAt: null,
      key: expect.stringMatching(KEY),
    });
    expect(KEY.exec(key)![1]).toBe(String(id));

    const viaGet = await token(fixture, mine.appId, key);
    expect(viaGet.status).toBe(200);
    expect(Object.keys(viaGet.body)).toEqual(['access_token', 'expires_in']);
    expect(viaGet.body.access_token).toBe(fixture.sandbox.latestToken(mine.appId));
    // Checked at WeChat (the sandbox): the token handed out works.
    expect(fixture.sandbox.tokenState(viaGet.body.access_token!)).toBe('live');
    const viaPost = await stableToken(fixture, mine.appId, key);
    expect(viaPost.body).toEqual({ access_token: viaGet.body.access_token, expires_in: expect.any(Number) });
    expect(fixture.sandbox.fetchCount()).toBe(2); // the two start-up fetches: a key never causes one

    // Another account: 40125 saying so; an account that does not exist: 40013, as for anyone.
    for (const answer of [
      await token(fixture, other.appId, key),
      await stableToken(fixture, other.appId, key),
    ]) {
      expect(answer.body.errcode).toBe(40125);
      expect(answer.body.errmsg).toMatch(/not allowed for this appid/);
      expect(answer.body.errmsg).toMatch(RID);
    }
    expect((await token(fixture, 'wx0000000000000000', key)).body.errcode).toBe(40013);
    // A key of another client id, or the right id with another secret: plain 40125.
    const forged = [
      key.replace(`wtc_${id}_`, `wtc_${id + 1}_`),
      `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`,
    ];
    for (const secret of forged) {
      expect((await token(fixture, mine.appId, secret)).body).toEqual({
        errcode: 40125,
        errmsg: expect.stringMatching(/^invalid appsecret rid: /),
      });
    }
    // The AppSecret keeps working (ALLOW_APPSECRET_CLIENTS defaults to true).
    expect((await token(fixture, mine.appId, mine.secret)).body.access_token).toBe(viaGet.body.access_token);

    // Revoked: refused from the answer on, the row kept.
    const revoked = await call(fixture, `/admin/clients/${id}`, { method: 'DELETE' });
    expect(revoked.status).toBe(204);
    for (const answer of [
      await token(fixture, mine.appId, key),
      await stableToken(fixture, mine.appId, key),
    ]) {
      expect(answer.body.errcode).toBe(40125);
      expect(answer.body.errmsg).toMatch(/^invalid appsecret: this client key is revoked/);
    }
    const listed = await call(fixture, '/admin/clients');
    expect(listed.body).toEqual([expect.objectContaining({ id, name: 'billing', enabled: false })]);
    expect((await call(fixture, `/admin/clients/${id}`, { method: 'DELETE' })).status).toBe(204);

    // Enabled again, for both accounts.
    const changed = await call(fixture, `/admin/clients/${id}`, {
      method: 'PATCH',
      json: { enabled: true, appIds: [mine.appId, other.appId] },
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toEqual(
      expect.objectContaining({ id, enabled: true, appIds: [mine.appId, other.appId] }),
    );
    expect((await token(fixture, other.appId, key)).body.access_token).toBe(
      fixture.sandbox.latestToken(other.appId),
    );

    // Every write is in the audit, with the admin key's name, never the key.
    const audit = await query<{ action: string; target: string; admin_key_name: string; details: object }>(
      fixture,
      "SELECT action, target, admin_key_name, details FROM admin_audit WHERE action LIKE 'client.%' ORDER BY id",
    );
    expect(audit).toEqual([
      {
        action: 'client.create',
        target: String(id),
        admin_key_name: 'ADMIN_TOKEN',
        details: { name: 'billing', appIds: [mine.appId], cidrs: [] },
      },
      expect.objectContaining({
        action: 'client.revoke',
        target: String(id),
        details: expect.objectContaining({ wasEnabled: true }),
      }),
      expect.objectContaining({
        action: 'client.revoke',
        details: expect.objectContaining({ wasEnabled: false }),
      }),
      expect.objectContaining({
        action: 'client.update',
        details: { name: 'billing', enabled: true, appIds: [mine.appId, other.appId] },
      }),
    ]);
  });

  it('keeps the key in no table, log line or answer but its creation', async () => {
    fixture = await startServerFixture();
    await waitForFirstTokens(fixture);
    const { appId } = fixture.accounts[0];
    const { id, key, answer: created } = await createClient(fixture, { name: 'leak-check', appIds: [appId] });
    const secretPart = key.slice(key.lastIndexOf('_') + 1);

    const answers: Record<string, string> = {};
    const keep = (name: string, answer: { text: string; headers?: Headers }) => {
      answers[name] = `${answer.headers ? [...answer.headers].join('\n') : ''}\n${answer.text}`;
    };
    keep('GET /cgi-bin/token', await token(fixture, appId, key));
    keep('POST /cgi-bin/stable_token', await stableToken(fixture, appId, key));
    keep('GET /cgi-bin/token, another appid', await token(fixture, 'wx0000000000000000', key));
    keep('GET /admin/clients', await call(fixture, '/admin/clients'));
    keep('GET /admin/clients/:id', await call(fixture, `/admin/clients/${id}`));
    keep(
      'PATCH /admin/clients/:id',
      await call(fixture, `/admin/clients/${id}`, { method: 'PATCH', json: { name: 'renamed' } }),
    );
    keep('GET /admin/audit', await call(fixture, '/admin/audit'));
    keep('DELETE /admin/clients/:id', await call(fixture, `/admin/clients/${id}`, { method: 'DELETE' }));
    keep('GET /cgi-bin/token, revoked', await token(fixture, appId, key));
    keep('GET /docs-json', await call(fixture, '/docs-json'));
    await fixture.app.get(HandoutRecorder).flush();

    expect(created.text).toContain(key);
    const places = { ...answers, ...(await everyTableAsText(fixture)), logs: fixture.logs.lines.join('\n') };
    expect(Object.keys(places)).toEqual(
      expect.arrayContaining(['table token_client', 'table token_client_handout']),
    );
    expect(leakedSecrets(places, { key, 'secret part of the key': secretPart })).toEqual([]);
    // bytea as text is hex: the key's bytes in hex are not there either.
    expect(leakedSecrets(places, { 'key in hex': Buffer.from(secretPart).toString('hex') })).toEqual([]);
    const [row] = await query<Record<string, unknown>>(fixture, 'SELECT * FROM token_client WHERE id = $1', [
      id,
    ]);
    expect(Object.keys(row).sort()).toEqual([
      'app_ids',
      'cidrs',
      'created_at',
      'enabled',
      'id',
      'key_digest',
      'key_salt',
      'last_used_at',
      'name',
      'updated_at',
    ]);
    const likeKey = await query<{ n: number }>(
      fixture,
      `SELECT count(*)::int AS n FROM token_client t
       WHERE t::text LIKE '%' || $1 || '%' OR encode(key_digest, 'escape') LIKE '%' || $1 || '%'
          OR encode(key_salt, 'escape') LIKE '%' || $1 || '%'`,
      [secretPart],
    );
    expect(likeKey[0].n).toBe(0);
  });

  it('refuses a key used from outside its networks with 40164 naming the IP, after TOKEN_CLIENT_ALLOWLIST', async () => {
    fixture = await startServerFixture({
      // The test poses as other IPs through X-Forwarded-For from 127.0.0.1, a trusted proxy.
      env: { TOKEN_CLIENT_ALLOWLIST: '127.0.0.1/32,10.0.0.0/8', TRUST_PROXY: '127.0.0.1/32' },
    });
    await waitForFirstTokens(fixture);
    const { appId } = fixture.accounts[0];
    const { id, key, answer } = await createClient(fixture, {
      name: 'in-one-network',
      appIds: [appId],
      cidrs: ['10.1.0.0/16', '10.9.9.9'],
    });
    expect(answer.body.cidrs).toEqual(['10.1.0.0/16', '10.9.9.9/32']);

    expect((await token(fixture, appId, key, '10.1.2.3')).body.access_token).toBe(
      fixture.sandbox.latestToken(appId),
    );
    expect((await token(fixture, appId, key, '10.9.9.9')).body.access_token).toBeDefined();
    for (const ip of ['10.2.3.4', '10.9.9.8']) {
      // Inside the global allowlist, outside the key's networks.
      expect((await token(fixture, appId, key, ip)).body).toEqual({
        errcode: 40164,
        errmsg: expect.stringMatching(
          new RegExp(
            `^invalid ip ${ip.replaceAll('.', '\\.')} ipv6 ::ffff:${ip.replaceAll('.', '\\.')}, not in whitelist rid: `,
          ),
        ),
      });
    }
    // 127.0.0.1 itself is allowed globally, not by the key.
    expect((await token(fixture, appId, key)).body.errcode).toBe(40164);
    // Outside the global allowlist: refused before the key is looked at.
    expect((await token(fixture, appId, key, '192.0.2.1')).body.errmsg).toMatch(/^invalid ip 192\.0\.2\.1 /);
    // The AppSecret is not bound to the key's networks.
    expect(
      (await token(fixture, appId, fixture.accounts[0].secret, '10.2.3.4')).body.access_token,
    ).toBeDefined();
    expect(fixture.logs.lines.join('\n')).toMatch(
      new RegExp(`client ${id} \\("in-one-network"\\) was used from 10\\.2\\.3\\.4, outside its cidrs`),
    );

    // The server moved: its network is added, effective at once.
    const moved = await call(fixture, `/admin/clients/${id}`, {
      method: 'PATCH',
      json: { cidrs: ['10.2.0.0/16'] },
    });
    expect(moved.body.cidrs).toEqual(['10.2.0.0/16']);
    expect((await token(fixture, appId, key, '10.2.3.4')).body.access_token).toBeDefined();
    expect((await token(fixture, appId, key, '10.1.2.3')).body.errcode).toBe(40164);
    // No networks of its own: the global allowlist alone.
    await call(fixture, `/admin/clients/${id}`, { method: 'PATCH', json: { cidrs: [] } });
    expect((await token(fixture, appId, key)).body.access_token).toBeDefined();
  });

  it('with ALLOW_APPSECRET_CLIENTS=false refuses the real AppSecret (40125) and serves a key', async () => {
    fixture = await startServerFixture({ env: { ALLOW_APPSECRET_CLIENTS: 'false' } });
    await waitForFirstTokens(fixture);
    const { appId, secret } = fixture.accounts[0];
    for (const answer of [await token(fixture, appId, secret), await stableToken(fixture, appId, secret)]) {
      expect(answer.status).toBe(200);
      expect(answer.body.access_token).toBeUndefined();
      expect(answer.body.errcode).toBe(40125);
      expect(answer.body.errmsg).toMatch(/client keys only, not the AppSecret/);
      expect(answer.text).not.toContain(secret);
    }
    const { key } = await createClient(fixture, { name: 'keys-only', appIds: [appId] });
    expect((await token(fixture, appId, key)).body.access_token).toBe(fixture.sandbox.latestToken(appId));
    expect((await stableToken(fixture, appId, key)).body.access_token).toBe(
      fixture.sandbox.latestToken(appId),
    );
  });

  it('counts handouts per client and token in batches, not a write per request, and writes the rest at shutdown', async () => {
    fixture = await startServerFixture();
    await waitForFirstTokens(fixture);
    const { appId } = fixture.accounts[0];
    const first = await createClient(fixture, { name: 'first', appIds: [appId] });
    const second = await createClient(fixture, { name: 'second', appIds: [appId] });
    // Counts the statements that write token_client_handout (an upsert fires the INSERT and the
    // UPDATE statement triggers: one statement is one (transaction, statement start) pair).
    await query(
      fixture,
      `CREATE TABLE test_handout_statement (txid bigint, started timestamptz, op text);
       CREATE FUNCTION test_count_handout_statement() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN INSERT INTO test_handout_statement VALUES (txid_current(), statement_timestamp(), TG_OP); RETURN NULL; END $$;
       CREATE TRIGGER test_count_handout_statement AFTER INSERT OR UPDATE OR DELETE ON token_client_handout
         FOR EACH STATEMENT EXECUTE FUNCTION test_count_handout_statement();`,
    );
    const statements = async () =>
      (
        await query<{ n: number }>(
          fixture!,
          'SELECT count(DISTINCT (txid, started))::int AS n FROM test_handout_statement',
        )
      )[0].n;
    const recorder = fixture.app.get(HandoutRecorder);
    await recorder.flush();
    expect(await statements()).toBe(0);

    const startedAt = Date.now();
    const requests = [...Array(300).fill(first.key), ...Array(200).fill(second.key)] as string[];
    for (let i = 0; i < requests.length; i += 50) {
      const answers = await Promise.all(requests.slice(i, i + 50).map((key) => token(fixture!, appId, key)));
      expect(answers.every((answer) => answer.body.access_token !== undefined)).toBe(true);
    }
    await recorder.flush();
    const elapsed = Date.now() - startedAt;
    // One statement per flush: the timed ones that fell within the run, and the one above.
    const written = await statements();
    expect(written).toBeGreaterThanOrEqual(1);
    expect(written).toBeLessThanOrEqual(Math.floor(elapsed / HANDOUT_FLUSH_MS) + 1);

    // Who held the token: one query.
    const tokenId = await servedTokenId(fixture, appId);
    const holders = await query<{ name: string; count: string; first_at: Date; last_at: Date }>(
      fixture,
      `SELECT c.name, h.count, h.first_at, h.last_at FROM token_client_handout h
       JOIN token_client c ON c.id = h.client_id WHERE h.token_id = $1 ORDER BY c.name`,
      [tokenId],
    );
    expect(holders.map(({ name, count }) => ({ name, count }))).toEqual([
      { name: 'first', count: '300' },
      { name: 'second', count: '200' },
    ]);
    for (const holder of holders) {
      expect(holder.first_at.getTime()).toBeGreaterThanOrEqual(startedAt - 1000);
      expect(holder.last_at.getTime()).toBeGreaterThanOrEqual(holder.first_at.getTime());
      expect(holder.last_at.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    }
    const clients = (await call(fixture, '/admin/clients')).body as {
      name: string;
      lastUsedAt: string | null;
    }[];
    for (const client of clients) {
      const holder = holders.find((row) => row.name === client.name)!;
      expect(Date.parse(client.lastUsedAt!)).toBe(holder.last_at.getTime());
    }

    // A new token: its handouts in a row of their own, the old row unchanged.
    const refreshed = await call(fixture, `/admin/accounts/${appId}/refresh`, { json: { force: true } });
    expect(refreshed.status).toBe(200);
    const newTokenId = await servedTokenId(fixture, appId);
    expect(newTokenId).not.toBe(tokenId);
    for (let i = 0; i < 5; i++) await token(fixture, appId, first.key);
    await recorder.flush();
    const rows = await query<{ client_id: number; token_id: string; count: string }>(
      fixture,
      'SELECT client_id, token_id, count FROM token_client_handout ORDER BY token_id, client_id',
    );
    expect(rows).toEqual([
      { client_id: first.id, token_id: tokenId, count: '300' },
      { client_id: second.id, token_id: tokenId, count: '200' },
      { client_id: first.id, token_id: newTokenId, count: '5' },
    ]);

    // Counted but not yet written when the server stops: written by the shutdown.
    for (let i = 0; i < 3; i++) await token(fixture, appId, second.key);
    await fixture.close();
    const databaseUrl = fixture.databaseUrl;
    fixture = undefined;
    const [after] = await queryDatabase<{ count: string }>(
      databaseUrl,
      'SELECT count FROM token_client_handout WHERE client_id = $1 AND token_id = $2',
      [second.id, newTokenId],
    );
    expect(after.count).toBe('3');
  });

  it('answers bad input with 400 saying what to send, 404 for an unknown client, 409 for a taken name', async () => {
    fixture = await startServerFixture();
    await waitForFirstTokens(fixture);
    const { appId } = fixture.accounts[0];
    const cases: [string, unknown, RegExp][] = [
      ['no name', { appIds: [appId] }, /^name is required: 1 to 64 characters/],
      ['an empty name', { name: '  ', appIds: [appId] }, /^name is required/],
      ['a long name', { name: 'n'.repeat(65), appIds: [appId] }, /^name is required: 1 to 64/],
      ['a name with a line break', { name: 'a\nb', appIds: [appId] }, /without control characters/],
      ['a name that is not text', { name: 5, appIds: [appId] }, /^name is required/],
      ['no appIds', { name: 'x' }, /^appIds must be a non-empty array/],
      ['appIds as a string', { name: 'x', appIds: appId }, /^appIds must be a non-empty array/],
      ['no appId in appIds', { name: 'x', appIds: [] }, /^appIds must be a non-empty array/],
      ['a malformed appId', { name: 'x', appIds: [appId, 'wx/../x'] }, /letters, digits, "_" or "-"/],
      ['cidrs as a string', { name: 'x', appIds: [appId], cidrs: '10.0.0.0/8' }, /^cidrs must be an array/],
      [
        'a bad prefix',
        { name: 'x', appIds: [appId], cidrs: ['10.0.0.0/8', '10.0.0.0/33'] },
        /entry 2 is not one\.$/,
      ],
      ['a host name', { name: 'x', appIds: [appId], cidrs: ['example.com'] }, /entry 1 is not one\.$/],
      ['an unknown field', { name: 'x', appIds: [appId], key: 'mine' }, /a field a client does not have/],
      ['an array', [{ name: 'x' }], /^The body must be a JSON object like/],
    ];
    for (const [what, body, message] of cases) {
      const answer = await call(fixture, '/admin/clients', { json: body });
      expect({ what, status: answer.status, message: answer.body.message }).toEqual({
        what,
        status: 400,
        message: expect.stringMatching(message),
      });
    }
    expect((await call(fixture, '/admin/clients', { method: 'POST' })).status).toBe(400);
    expect((await call(fixture, '/admin/clients')).body).toEqual([]);

    // An appId that is no account (yet) is accepted: 40013 until the account exists.
    const { id, key } = await createClient(fixture, {
      name: 'taken',
      appIds: ['wx0000000000000000', appId, appId],
    });
    expect((await call(fixture, `/admin/clients/${id}`)).body.appIds).toEqual(['wx0000000000000000', appId]);
    expect((await token(fixture, 'wx0000000000000000', key)).body.errcode).toBe(40013);
    const other = await createClient(fixture, { name: 'other', appIds: [appId] });

    const duplicate = await call(fixture, '/admin/clients', { json: { name: ' taken ', appIds: [appId] } });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.message).toMatch(/name exists already/);
    const renamed = await call(fixture, `/admin/clients/${other.id}`, {
      method: 'PATCH',
      json: { name: 'taken' },
    });
    expect(renamed.status).toBe(409);

    const patches: [unknown, RegExp][] = [
      [{}, /at least one of name, appIds, cidrs, enabled/],
      [{ enabled: 'no' }, /^enabled must be true/],
      [{ appIds: [] }, /^appIds must be/],
      [{ cidrs: ['::/129'] }, /entry 1 is not one/],
      [{ key: 'x' }, /a field a client does not have/],
    ];
    for (const [body, message] of patches) {
      const answer = await call(fixture, `/admin/clients/${id}`, { method: 'PATCH', json: body });
      expect({ body, status: answer.status, message: answer.body.message }).toEqual({
        body,
        status: 400,
        message: expect.stringMatching(message),
      });
    }
    for (const [method, path] of [
      ['GET', '/admin/clients/abc'],
      ['GET', '/admin/clients/0'],
      ['DELETE', '/admin/clients/-1'],
      ['GET', '/admin/clients/99999999999'],
    ]) {
      const answer = await call(fixture, path, { method });
      expect({ path, status: answer.status, message: answer.body.message }).toEqual({
        path,
        status: 400,
        message: expect.stringMatching(/^The client id must be a positive integer/),
      });
    }
    for (const [method, json] of [['GET'], ['DELETE'], ['PATCH', { enabled: false }]] as const) {
      const answer = await call(fixture, '/admin/clients/999', { method, ...(json ? { json } : {}) });
      expect({ method, status: answer.status, message: answer.body.message }).toEqual({
        method,
        status: 404,
        message: 'No client 999: GET /admin/clients lists the clients.',
      });
    }
    expect((await call(fixture, '/admin/clients', { auth: null })).status).toBe(401);
    expect(
      (await call(fixture, '/admin/clients', { auth: null, json: { name: 'x', appIds: [appId] } })).status,
    ).toBe(401);
    // Nothing refused was written.
    expect(
      (await call(fixture, '/admin/clients')).body.map((client: { name: string }) => client.name),
    ).toEqual(['taken', 'other']);
  });
});
