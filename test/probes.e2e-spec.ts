import { afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WechatTokenService } from 'nestjs-wechat-token';
import { WechatSandbox } from 'nestjs-wechat-token/testing';
import { ADMIN_TOKEN, Cluster, waitFor, type Replica } from './support/cluster.js';
import { getHealth, healthBecomes } from './support/health-http.js';
import { PrivatePostgres } from './support/private-postgres.js';
import {
  fixtureAccount,
  startServerFixture,
  waitForFirstTokens,
  type ServerFixture,
} from './support/server-fixture.js';

// Issue 13: liveness apart from readiness, /health that tells strangers the status only,
// health failures logged on change of state, and logs a collector can read (JSON, no ANSI).

/** A fixture whose accounts never get a token: the sandbox refuses this server's IP (40164, the hint names the IP). */
async function refusedFixture(): Promise<ServerFixture> {
  const fixture = await startServerFixture({
    accounts: [fixtureAccount(), fixtureAccount('stable')],
    sandboxOptions: { ipWhitelist: ['203.0.113.1'] },
  });
  const service = fixture.app.get(WechatTokenService);
  await waitFor('the start-up fetches to fail', () =>
    fixture.accounts.every((account) => service.lastError(account.appId)?.errcode === 40164),
  );
  return fixture;
}

describe('probes: /health/live, /health/ready, /health', () => {
  let fixture: ServerFixture | undefined;
  let postgres: PrivatePostgres | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
    await postgres?.destroy();
    postgres = undefined;
  });

  // (Issue 3's /health outage test, now here: one private Postgres for both.)
  it('with Postgres stopped: live 200, ready and /health 503 naming the database only, the token still served; 200 again once it is back', async () => {
    // A Postgres of this test's own: the run's shared one must keep running.
    postgres = await PrivatePostgres.create();
    const databaseUrl = await postgres.createDatabase(`probes_${randomBytes(4).toString('hex')}`);
    fixture = await startServerFixture({ env: { DATABASE_URL: databaseUrl } });
    await waitForFirstTokens(fixture);
    const { appId, secret } = fixture.accounts[0];
    expect(await getHealth(fixture, '/health', fixture.adminToken)).toMatchObject({
      status: 200,
      body: {
        status: 'ok',
        details: {
          database: { status: 'up' },
          wechat_accounts: { status: 'up', accounts: { [appId]: { usable: true } } },
        },
      },
    });
    expect(await getHealth(fixture, '/health/live')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await getHealth(fixture, '/health/ready')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await getHealth(fixture, '/health')).toMatchObject({ status: 200, body: { status: 'ok' } });

    await postgres.stop();
    const ready = await healthBecomes(fixture, '/health/ready', 503);
    expect(ready).toMatchObject({ status: 503, body: { status: 'error', down: ['database'] } });
    expect(ready.body).toEqual({ status: 'error', down: ['database'] });
    expect(await getHealth(fixture, '/health')).toMatchObject({
      status: 503,
      body: { status: 'error', down: ['database'] },
    });
    // Liveness does not depend on the database: the replica still serves the token it holds.
    expect(await getHealth(fixture, '/health/live')).toMatchObject({ status: 200, body: { status: 'ok' } });
    // With the admin key: Terminus' detail, the tokens still up.
    const detail = await getHealth(fixture, '/health/ready', fixture.adminToken);
    expect(detail.status).toBe(503);
    expect(detail.body.error.database.status).toBe('down');
    expect(detail.body.details.wechat_accounts.status).toBe('up');
    expect(detail.body.status).toBe('error');
    expect(detail.text).not.toContain('postgres:postgres');
    expect(detail.text).not.toContain(secret);
    // The tokens are still held and served: only the database is down.
    const served = await fetch(
      `${fixture.baseUrl}/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret}`,
    );
    expect(((await served.json()) as { access_token?: string }).access_token).toBe(
      fixture.sandbox.latestToken(appId),
    );

    await postgres.start();
    expect(await healthBecomes(fixture, '/health/ready', 200)).toMatchObject({
      status: 200,
      body: { status: 'ok' },
    });
    expect(await getHealth(fixture, '/health')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await getHealth(fixture, '/health', fixture.adminToken)).toMatchObject({
      status: 200,
      body: { status: 'ok' },
    });
    expect(await getHealth(fixture, '/health/live')).toMatchObject({ status: 200 });
    // The outage was logged once when it began and once when it ended, whatever the polling.
    const healthLines = fixture.logs.lines.filter((line) => /Not ready|Ready again/.test(line));
    expect(healthLines).toEqual([
      expect.stringMatching(/^ERROR Not ready: database down/),
      expect.stringMatching(/^LOG Ready again/),
    ]);
  }, 60_000);

  it('without an admin key tells the status and the component class down, no appId, hint, IP or error; with it the detail', async () => {
    fixture = await refusedFixture();
    const appIds = fixture.accounts.map((account) => account.appId);

    for (const path of ['/health', '/health/ready']) {
      for (const key of [undefined, `${fixture.adminToken}x`]) {
        const answer = await getHealth(fixture, path, key);
        expect({ path, status: answer.status, body: answer.body }).toEqual({
          path,
          status: 503,
          body: { status: 'error', down: ['wechat_accounts'] },
        });
        for (const appId of appIds) expect(answer.text).not.toContain(appId);
        expect(answer.text).not.toMatch(/whitelist|errcode|hint|127\.0\.0\.1|203\.0\.113/i);
      }
    }

    const detail = await getHealth(fixture, '/health', fixture.adminToken);
    expect(detail.status).toBe(503);
    expect(detail.body.details.database.status).toBe('up');
    for (const appId of appIds) {
      expect(detail.body.error.wechat_accounts.accounts[appId]).toMatchObject({
        usable: false,
        lastError: { errcode: 40164, hint: expect.stringMatching(/whitelist/i) },
      });
    }
    for (const { secret } of fixture.accounts) expect(detail.text).not.toContain(secret);
  });

  it('1,000 /health calls while an account is unusable write one log line, which names the accounts for the operator', async () => {
    fixture = await refusedFixture();
    const before = fixture.logs.lines.length;
    const paths = ['/health', '/health/ready'];
    let next = 0;
    const statuses = new Map<number, number>();
    // 20 callers at a time, 1,000 calls in all.
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < 1000) {
          const path = paths[next++ % paths.length];
          const response = await fetch(`${fixture!.baseUrl}${path}`);
          await response.arrayBuffer();
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        }
      }),
    );
    expect(Object.fromEntries(statuses)).toEqual({ 503: 1000 });

    const written = fixture.logs.lines.slice(before);
    const severe = written.filter((line) => /^(WARN|ERROR|FATAL) /.test(line));
    expect(severe.length).toBeLessThanOrEqual(3);
    const health = written.filter((line) => /Not ready/.test(line));
    expect(health).toHaveLength(1);
    expect(health[0]).toMatch(/^ERROR Not ready: wechat_accounts down \(2 accounts without a usable token/);
    for (const { appId, secret } of fixture.accounts) {
      expect(health[0]).toContain(`${appId}: errcode 40164`);
      expect(health[0]).not.toContain(secret);
    }
  }, 60_000);
});

describe('logs of a real process (node dist/main.js, stdout to a file)', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  /**
   * Starts a replica writing its stdout to a file, with an account the sandbox does not know
   * (its fetch fails with errcode 40013, /health fails): warnings and errors to log. Calls
   * /health, reloads the admin keys (SIGHUP), stops it (SIGTERM) and returns the file.
   */
  async function runReplica(
    index: number,
    env: Record<string, string>,
  ): Promise<{ text: string; replica: Replica }> {
    const file = join(cluster!.workDir, `stdout-${index}.log`);
    const fd = openSync(file, 'w');
    const unknown = WechatSandbox.randomAccount();
    let replica: Replica;
    try {
      const known = cluster!.accounts.map(({ appId, secret }) => `${appId}:${secret}`);
      replica = await cluster!.spawn(index, {
        env: { ...env, WECHAT_ACCOUNTS: [...known, `${unknown.appId}:${unknown.secret}`].join(',') },
        stdout: fd,
      });
    } finally {
      // The child holds its own copy.
      closeSync(fd);
    }
    await replica.ready();
    await waitFor(
      'the fetch for the unknown account to fail',
      async () => (await replica.status(unknown.appId)).lastError?.errcode === 40013,
    );
    expect((await replica.request('GET', '/health')).status).toBe(503);
    process.kill(replica.pid, 'SIGHUP');
    await waitFor('the reload to be logged', () =>
      readFileSync(file, 'utf8').includes('Admin keys reloaded'),
    );
    await replica.stop(15_000);
    return { text: readFileSync(file, 'utf8'), replica };
  }

  it('LOG_FORMAT=json: every line is one JSON object with time, level, pid, context and message; appId and errcode where they apply; nothing on stderr', async () => {
    cluster = await Cluster.create();
    const { text, replica } = await runReplica(0, { LOG_FORMAT: 'json' });
    // Everything went to stdout (the file): stderr, which `output` holds, is empty.
    expect(replica.output).toEqual([]);
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBeGreaterThan(10);
    const records = lines.map((line, index) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`line ${index + 1} is not JSON: ${line}`);
      }
    });
    for (const record of records) {
      expect(record).toEqual(
        expect.objectContaining({
          time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
          level: expect.stringMatching(/^(fatal|error|warn|log|debug|verbose)$/),
          pid: replica.pid,
          context: expect.any(String),
          message: expect.anything(),
        }),
      );
    }
    const find = (context: string, message: RegExp) =>
      records.find((record) => record.context === context && message.test(String(record.message)));
    expect(find('Bootstrap', /^Listening on http:\/\/127\.0\.0\.1:/)).toMatchObject({ level: 'log' });
    expect(find('Health', /^Not ready: wechat_accounts down/)).toMatchObject({ level: 'error' });
    // The library's warning about the failed fetch carries the account and WeChat's errcode as fields.
    expect(records.filter((record) => record.errcode === 40013)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ level: 'warn', appId: expect.stringMatching(/^wx/) }),
      ]),
    );
    expect(find('Bootstrap', /^Admin keys reloaded: names ADMIN_TOKEN/)).toMatchObject({ level: 'log' });
    expect(find('Bootstrap', /^SIGTERM received: shutting down$/)).toBeDefined();
    expect(find('Bootstrap', /^Stopped$/)).toBeDefined();
    expect(text).not.toContain(ADMIN_TOKEN);
  }, 90_000);

  it('LOG_FORMAT=text (the default) to a file: no ANSI escape anywhere, errors on stdout too', async () => {
    cluster = await Cluster.create();
    const { text, replica } = await runReplica(0, {});
    expect(replica.output).toEqual([]);
    expect(text).toMatch(
      /^\[Nest\] \d+ {2}- .+ {5}LOG \[Bootstrap\] Listening on http:\/\/127\.0\.0\.1:\d+$/m,
    );
    expect(text).toMatch(/ ERROR \[Health\] Not ready: wechat_accounts down/);
    expect(text).toContain('[Bootstrap] Admin keys reloaded');
    expect(text).not.toContain('\x1b[');
  }, 90_000);
});
