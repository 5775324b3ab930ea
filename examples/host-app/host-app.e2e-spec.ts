import { afterEach, describe, expect, it } from '@jest/globals';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { WechatTokenService } from 'nestjs-wechat-token';
import { WechatSandbox } from 'nestjs-wechat-token/testing';
import { createTestDatabase, queryDatabase } from '../../test/support/database.js';
import { ApiIpsService } from './api-ips/api-ips.service.js';
import { AppModule } from './app.module.js';

const ENV_KEYS = ['DATABASE_URL', 'WECHAT_APP_ID', 'WECHAT_APP_SECRET', 'WECHAT_API_BASE_URL'] as const;

/** The example app as `main.ts` starts it (Fastify), configured by its environment, on a fresh database and a sandbox. */
class HostAppFixture {
  private constructor(
    readonly app: NestFastifyApplication,
    readonly sandbox: WechatSandbox,
    readonly account: { appId: string; secret: string },
    readonly databaseUrl: string,
    private readonly savedEnv: Record<string, string | undefined>,
  ) {}

  static async start(): Promise<HostAppFixture> {
    const savedEnv = Object.fromEntries(ENV_KEYS.map((key) => [key, process.env[key]]));
    const databaseUrl = await createTestDatabase('host'); // a fresh database of your test Postgres
    // #region sandbox
    // A WeChat account that exists only in this sandbox; start() listens on a free loopback port.
    const account = WechatSandbox.randomAccount();
    const sandbox = new WechatSandbox({ accounts: [account] });
    Object.assign(process.env, {
      DATABASE_URL: databaseUrl,
      WECHAT_APP_ID: account.appId,
      WECHAT_APP_SECRET: account.secret,
      WECHAT_API_BASE_URL: await sandbox.start(), // AppModule passes it to the module's apiBaseUrl
    });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
      logger: false,
    });
    await app.init();
    // In a test: `sandbox.tokenState(token)` is 'live' for a token WeChat would accept,
    // `sandbox.fetchCount(appId)` counts the app's fetches; `sandbox.stop()` after app.close().
    // #endregion sandbox
    await app.getHttpAdapter().getInstance().ready();
    return new HostAppFixture(app, sandbox, account, databaseUrl, savedEnv);
  }

  get http() {
    return request(this.app.getHttpServer());
  }

  query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    return queryDatabase<T>(this.databaseUrl, sql);
  }

  /** Another server calling WeChat's token endpoint itself: the token the app holds dies after the overlap. */
  async rogueFetch(): Promise<void> {
    const url = new URL('/cgi-bin/token', this.sandbox.url);
    url.search = new URLSearchParams({
      grant_type: 'client_credential',
      appid: this.account.appId,
      secret: this.account.secret,
    }).toString();
    const body = (await (await fetch(url)).json()) as { access_token?: string };
    expect(body.access_token).toBeDefined();
  }

  async close(): Promise<void> {
    await this.app.close();
    await this.sandbox.stop();
    for (const [key, value] of Object.entries(this.savedEnv)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

describe('examples/host-app: a Nest app using WechatTokenModule', () => {
  let host: HostAppFixture | undefined;
  afterEach(async () => {
    await host?.close();
    host = undefined;
  });

  it('runs its own and the module’s migrations on its connection, and calls WeChat with the shared token', async () => {
    host = await HostAppFixture.start();
    const snapshot = await host.app.get(ApiIpsService).sync();

    expect(snapshot.ipList.length).toBeGreaterThan(0);
    expect(host.sandbox.fetchCount(host.account.appId)).toBe(1);
    const token = await host.app.get(WechatTokenService).getAccessToken(host.account.appId);
    expect(host.sandbox.tokenState(token)).toBe('live');
    const migrations = await host.query<{ name: string }>('SELECT name FROM migrations ORDER BY name');
    expect(migrations.map((m) => m.name)).toEqual([
      'AddTickets1764900000000',
      'AddTokenDigest1765200000000',
      'AddValuePreview1764950000000',
      'CreateAccessToken1763700000000',
      'CreateTokenFetchAttempt1763700000001',
      'CreateTokenQuotaReset1765100000000',
      'CreateWechatApiIpSnapshot1763800000000',
      'LogFetchBeforeCall1764400000000',
    ]);
    expect(await host.query('SELECT app_id, ip_list FROM wechat_api_ip_snapshot')).toEqual([
      { app_id: host.account.appId, ip_list: snapshot.ipList },
    ]);
    expect(await host.query('SELECT access_token, source FROM access_token')).toEqual([
      { access_token: token, source: 'startup' },
    ]);
  });

  it('serves its routes on Fastify', async () => {
    host = await HostAppFixture.start();
    await host.http.get('/wechat/api-ips').expect(404);

    const synced = await host.http.post('/wechat/api-ips/sync').expect(201);
    expect(synced.body).toMatchObject({ appId: host.account.appId, ipList: expect.any(Array) });
    expect(synced.body.ipList.length).toBeGreaterThan(0);

    const latest = await host.http.get('/wechat/api-ips').expect(200);
    expect(latest.body).toEqual(synced.body);
    expect(host.sandbox.fetchCount(host.account.appId)).toBe(1);
  });

  it('gives a page its wx.config: a signature WeChat accepts, never the ticket', async () => {
    host = await HostAppFixture.start();
    const page = 'https://shop.example.com/order?id=42&from=menu';

    const answer = await host.http
      .get('/wechat/jsapi-config')
      .query({ url: `${page}#/confirm` })
      .expect(200);

    expect(Object.keys(answer.body).sort()).toEqual([
      'appId',
      'jsApiList',
      'nonceStr',
      'signature',
      'timestamp',
    ]);
    expect(answer.body.appId).toBe(host.account.appId);
    // What wx.config on that page would say: the sandbox checks it against the tickets it issued.
    expect(host.sandbox.checkJsapiConfig({ ...answer.body, url: page })).toEqual({ ok: true });
    const ticket = host.sandbox.latestTicket(host.account.appId, 'jsapi');
    expect(ticket).toBeDefined();
    expect(JSON.stringify(answer.body)).not.toContain(ticket);
    expect(host.sandbox.ticketFetchCount(host.account.appId, 'jsapi')).toBe(1);

    const relative = await host.http.get('/wechat/jsapi-config').query({ url: '/order' }).expect(400);
    expect(relative.body.message).toMatch(/absolute http\(s\) URL/);
    await host.http.get('/wechat/jsapi-config').expect(400);
  });

  it.each([
    [
      '40001 (another server fetched a token and the overlap is over)',
      'replaced',
      async (h: HostAppFixture) => {
        await h.rogueFetch();
        h.sandbox.advanceTime(301);
      },
      3, // start-up, the rogue fetch, the refresh
    ],
    [
      '42001 (the token expired by WeChat’s clock)',
      'expired',
      async (h: HostAppFixture) => h.sandbox.advanceTime(7201),
      2, // start-up, the refresh
    ],
  ])(
    'a call answered %s is refreshed once and retried by withAccessToken',
    async (_name, state, killToken, upstreamCalls) => {
      host = await HostAppFixture.start();
      const tokens = host.app.get(WechatTokenService);
      const held = await tokens.getAccessToken(host.account.appId);
      await killToken(host);
      expect(host.sandbox.tokenState(held)).toBe(state);

      const synced = await host.http.post('/wechat/api-ips/sync').expect(201);

      expect(synced.body.ipList.length).toBeGreaterThan(0);
      expect(host.sandbox.fetchCount(host.account.appId)).toBe(upstreamCalls);
      const fresh = await tokens.getAccessToken(host.account.appId);
      expect(fresh).not.toBe(held);
      expect(host.sandbox.tokenState(fresh)).toBe('live');
      expect(await host.query('SELECT access_token, source FROM access_token ORDER BY id')).toEqual([
        { access_token: held, source: 'startup' },
        { access_token: fresh, source: 'stale_report' },
      ]);
    },
  );
});
