import { afterEach, describe, expect, it } from '@jest/globals';
import axios, { AxiosError, type AxiosResponse } from 'axios';
import { ModuleFixture } from './support/module-fixture.js';

/** What `get_api_domain_ip` answers: the IP list, or WeChat's error shape. */
interface ApiAnswer {
  ip_list?: string[];
  errcode?: number;
  errmsg?: string;
}

/**
 * A WeChat API call as a host app writes it, with a script of answers: a
 * scripted step answers (or throws) without asking WeChat, `'wechat'` really
 * calls the sandbox with the token. Keeps every token it was called with.
 */
function scriptedApi<T>(fixture: ModuleFixture, script: Array<'wechat' | ((token: string) => T)>) {
  const tokens: string[] = [];
  const call = async (token: string): Promise<T | ApiAnswer> => {
    const step = script[Math.min(tokens.length, script.length - 1)];
    tokens.push(token);
    if (step !== 'wechat') return step(token);
    const response = await fetch(
      `${fixture.sandboxUrl}/cgi-bin/get_api_domain_ip?access_token=${encodeURIComponent(token)}`,
    );
    return (await response.json()) as ApiAnswer;
  };
  return { call, tokens };
}

/**
 * A stale-token answer, as WeChat gives it: the token is really dead at the
 * sandbox (killed as another server's fetches would), since the center checks
 * a reported token at WeChat before replacing it.
 */
const staleBody = (fixture: ModuleFixture, errcode: number) => (token: string) => {
  fixture.sandbox.revokeToken(token);
  return { errcode, errmsg: `errcode ${errcode} (scripted)` };
};

/** Throws `error` after the token died at the sandbox, as WeChat's rejection would come. */
const staleThrow = (fixture: ModuleFixture, error: AxiosError) => (token: string) => {
  fixture.sandbox.revokeToken(token);
  throw error;
};

/** An error like the one axios throws when an interceptor rejects a WeChat error body. */
function axiosErrorWith(errcode: number): AxiosError {
  const response = {
    status: 200,
    statusText: 'OK',
    headers: {},
    config: {},
    data: { errcode, errmsg: `errcode ${errcode} (scripted)` },
  } as AxiosResponse;
  return new AxiosError(`WeChat errcode ${errcode}`, 'ERR_WECHAT', undefined, undefined, response);
}

// withAccessToken against the real module: Postgres, and the WeChat sandbox over HTTP.
describe('WechatTokenService.withAccessToken (Postgres + sandbox)', () => {
  let fixture: ModuleFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  /** A fixture whose start-up fetch is done: one upstream call, one `startup` row. */
  async function started(): Promise<ModuleFixture> {
    fixture = await ModuleFixture.start();
    await fixture.settle();
    expect(fixture.sandbox.fetchCount(fixture.appId)).toBe(1);
    return fixture;
  }

  async function tokenRows(f: ModuleFixture): Promise<Array<{ access_token: string; source: string }>> {
    return f.query('SELECT access_token, source FROM access_token ORDER BY id');
  }

  it.each([40001, 42001, 40014])(
    'errcode %i once in the body: one refresh (stale_report), one retry, the retry’s answer returned',
    async (errcode) => {
      const f = await started();
      const first = await f.service.getAccessToken(f.appId);
      const api = scriptedApi(f, [staleBody(f, errcode), 'wechat']);

      const answer = await f.service.withAccessToken(f.appId, api.call);

      expect(answer).toEqual({ ip_list: expect.any(Array) });
      expect(api.tokens).toHaveLength(2);
      expect(api.tokens[0]).toBe(first);
      expect(api.tokens[1]).not.toBe(first);
      expect(f.sandbox.fetchCount(f.appId)).toBe(2);
      expect(await tokenRows(f)).toEqual([
        { access_token: first, source: 'startup' },
        { access_token: api.tokens[1], source: 'stale_report' },
      ]);
      expect(await f.service.getAccessToken(f.appId)).toBe(api.tokens[1]);
    },
  );

  it.each([40001, 42001, 40014])(
    'errcode %i twice in the body: the second answer reaches the caller after one retry, no loop',
    async (errcode) => {
      const f = await started();
      const api = scriptedApi(f, [staleBody(f, errcode), staleBody(f, errcode), 'wechat']);

      const answer = await f.service.withAccessToken(f.appId, api.call);

      expect(answer).toEqual({ errcode, errmsg: expect.any(String) });
      expect(api.tokens).toHaveLength(2);
      expect(new Set(api.tokens).size).toBe(2);
      expect(f.sandbox.fetchCount(f.appId)).toBe(2);
      expect((await tokenRows(f)).map((row) => row.source)).toEqual(['startup', 'stale_report']);
    },
  );

  it.each([40001, 42001, 40014])(
    'a thrown AxiosError carrying errcode %i once: one refresh, one retry, the result returned',
    async (errcode) => {
      const f = await started();
      const api = scriptedApi<never>(f, [staleThrow(f, axiosErrorWith(errcode)), 'wechat']);

      const answer = await f.service.withAccessToken(f.appId, api.call);

      expect(answer).toEqual({ ip_list: expect.any(Array) });
      expect(api.tokens).toHaveLength(2);
      expect(f.sandbox.fetchCount(f.appId)).toBe(2);
      expect((await tokenRows(f)).map((row) => row.source)).toEqual(['startup', 'stale_report']);
    },
  );

  it.each([40001, 42001, 40014])(
    'a thrown AxiosError carrying errcode %i twice: the second error reaches the caller after one retry',
    async (errcode) => {
      const f = await started();
      const errors = [axiosErrorWith(errcode), axiosErrorWith(errcode)];
      const api = scriptedApi<never>(f, [staleThrow(f, errors[0]), staleThrow(f, errors[1]), 'wechat']);

      await expect(f.service.withAccessToken(f.appId, api.call)).rejects.toBe(errors[1]);

      expect(api.tokens).toHaveLength(2);
      expect(f.sandbox.fetchCount(f.appId)).toBe(2);
      expect((await tokenRows(f)).map((row) => row.source)).toEqual(['startup', 'stale_report']);
    },
  );

  it('an axios response whose body says 40001: refreshed and retried with a real axios call', async () => {
    const f = await started();
    const calls: string[] = [];
    const call = async (token: string): Promise<AxiosResponse<ApiAnswer>> => {
      calls.push(token);
      if (calls.length === 1) {
        f.sandbox.revokeToken(token);
        return { status: 200, data: { errcode: 40001, errmsg: 'invalid credential' } } as AxiosResponse;
      }
      return axios.get<ApiAnswer>(`${f.sandboxUrl}/cgi-bin/get_api_domain_ip`, {
        params: { access_token: token },
      });
    };

    const response = await f.service.withAccessToken(f.appId, call);

    expect(response.status).toBe(200);
    expect(response.data.ip_list?.length).toBeGreaterThan(0);
    expect(calls).toHaveLength(2);
    expect(f.sandbox.fetchCount(f.appId)).toBe(2);
    expect((await tokenRows(f)).map((row) => row.source)).toEqual(['startup', 'stale_report']);
  });

  it('an axios response with 40001 twice: the second response reaches the caller', async () => {
    const f = await started();
    let calls = 0;
    const stale = { status: 200, data: { errcode: 40001, errmsg: 'invalid credential' } } as AxiosResponse;

    const response = await f.service.withAccessToken(f.appId, (token) => {
      calls++;
      f.sandbox.revokeToken(token);
      return { ...stale };
    });

    expect(response).toEqual(stale);
    expect(calls).toBe(2);
    expect(f.sandbox.fetchCount(f.appId)).toBe(2);
  });

  it('40001 for a token WeChat still accepts: no fetch, no retry, the answer reaches the caller', async () => {
    const f = await started();
    const token = await f.service.getAccessToken(f.appId);
    let calls = 0;
    const stale = { errcode: 40001, errmsg: 'invalid credential (not about this token)' };

    const answer = await f.service.withAccessToken(f.appId, () => {
      calls++;
      return { ...stale };
    });

    expect(answer).toEqual(stale);
    expect(calls).toBe(1);
    expect(f.sandbox.fetchCount(f.appId)).toBe(1);
    expect(f.sandbox.tokenState(token)).toBe('live');
    expect(await f.service.getAccessToken(f.appId)).toBe(token);
  });

  it.each([
    ['another errcode in the body', () => ({ errcode: 45009, errmsg: 'reach max api daily quota limit' })],
    ['errcode 0', () => ({ errcode: 0, errmsg: 'ok' })],
  ])('%s: returned as it is, no refresh, no retry', async (_name, answer) => {
    const f = await started();
    const api = scriptedApi(f, [answer, 'wechat']);

    expect(await f.service.withAccessToken(f.appId, api.call)).toEqual(answer());

    expect(api.tokens).toHaveLength(1);
    expect(f.sandbox.fetchCount(f.appId)).toBe(1);
  });

  it('an error without a stale-token errcode is rethrown at once: no refresh, no retry', async () => {
    const f = await started();
    const failure = axiosErrorWith(48001);
    const api = scriptedApi<never>(f, [staleThrow(f, failure), 'wechat']);

    await expect(f.service.withAccessToken(f.appId, api.call)).rejects.toBe(failure);

    expect(api.tokens).toHaveLength(1);
    expect(f.sandbox.fetchCount(f.appId)).toBe(1);
  });

  it('20 concurrent callers hitting 40001 with the same token share one refresh and all succeed', async () => {
    const f = await started();
    const first = await f.service.getAccessToken(f.appId);
    const apis = Array.from({ length: 20 }, () => scriptedApi(f, [staleBody(f, 40001), 'wechat']));

    const answers = await Promise.all(apis.map((api) => f.service.withAccessToken(f.appId, api.call)));

    for (const answer of answers) expect(answer).toEqual({ ip_list: expect.any(Array) });
    expect(f.sandbox.fetchCount(f.appId)).toBe(2);
    const rows = await tokenRows(f);
    expect(rows.map((row) => row.source)).toEqual(['startup', 'stale_report']);
    for (const api of apis) expect(api.tokens).toEqual([first, rows[1].access_token]);
  });

  it('a second stale report inside the minimum interval: a token WeChat rejects is replaced all the same', async () => {
    const f = await started();
    await f.service.withAccessToken(f.appId, scriptedApi(f, [staleBody(f, 40001), 'wechat']).call);
    expect(f.sandbox.fetchCount(f.appId)).toBe(2);

    // The fresh token dies too, 0 s after the last forced refresh (limit: 30 s): the limit
    // holds back overrides of working tokens, not the replacement of a dead one.
    const api = scriptedApi(f, [staleBody(f, 40001), 'wechat']);
    const answer = await f.service.withAccessToken(f.appId, api.call);

    expect(answer).toEqual({ ip_list: expect.any(Array) });
    expect(api.tokens).toHaveLength(2);
    expect(f.sandbox.fetchCount(f.appId)).toBe(3);
    expect(f.sandbox.tokenState(api.tokens[1])).toBe('live');
    expect((await tokenRows(f)).map((row) => row.source)).toEqual([
      'startup',
      'stale_report',
      'stale_report',
    ]);
  });

  // A void call (sending a message) whose retry succeeds must resolve: rethrowing the first
  // error would make the caller send twice.
  it('a retry that succeeds with no value (void) resolves, it does not throw the first error', async () => {
    const f = await started();
    let calls = 0;
    const sendMessage = async (token: string): Promise<void> => {
      calls++;
      if (calls === 1) staleThrow(f, axiosErrorWith(40001))(token);
      const { data } = await axios.get<ApiAnswer>(`${f.sandboxUrl}/cgi-bin/get_api_domain_ip`, {
        params: { access_token: token },
      });
      if (data.errcode) throw new Error(`unexpected errcode ${data.errcode}`);
    };

    await expect(f.service.withAccessToken(f.appId, sendMessage)).resolves.toBeUndefined();
    expect(calls).toBe(2);
    expect(f.sandbox.fetchCount(f.appId)).toBe(2);
  });
});
