import { describe, expect, it } from '@jest/globals';
import { FakeTokenService } from './token-service.fake.js';
import { TokenAnswerCache } from './token-answer.cache.js';

const APP_ID = 'wx1234567890abcdef';

describe('TokenAnswerCache', () => {
  it('answers WeChat JSON with the expires_in of each request', async () => {
    const tokens = new FakeTokenService([APP_ID]);
    const cache = new TokenAnswerCache(tokens.asService());
    expect(JSON.parse((await cache.answer(APP_ID)).body)).toEqual({
      access_token: 'ACCESS_TOKEN_0000000001',
      expires_in: 6870,
    });
    tokens.token!.expiresIn = 6000;
    expect(await cache.answer(APP_ID)).toEqual({
      body: '{"access_token":"ACCESS_TOKEN_0000000001","expires_in":6000}',
      tokenId: '1',
    });
  });

  it('follows a new token, whether announced or not', async () => {
    const tokens = new FakeTokenService([APP_ID]);
    const cache = new TokenAnswerCache(tokens.asService());
    await cache.answer(APP_ID);
    await tokens.refresh(APP_ID);
    expect(JSON.parse((await cache.answer(APP_ID)).body).access_token).toBe('ACCESS_TOKEN_0000000002');
    // Replaced without onTokenChange: the token id tells.
    tokens.token = { accessToken: 'OTHER_TOKEN_000000003', expiresIn: 10, tokenId: '3' };
    const answer = await cache.answer(APP_ID);
    expect(JSON.parse(answer.body)).toEqual({ access_token: 'OTHER_TOKEN_000000003', expires_in: 10 });
    expect(answer.tokenId).toBe('3');
  });

  it('escapes what JSON needs escaped', async () => {
    const tokens = new FakeTokenService([APP_ID]);
    tokens.token = { accessToken: 'a"b\\c', expiresIn: 5, tokenId: '9' };
    const answer = await new TokenAnswerCache(tokens.asService()).answer(APP_ID);
    expect(JSON.parse(answer.body).access_token).toBe('a"b\\c');
  });

  it('stops listening on module destroy', async () => {
    const tokens = new FakeTokenService([APP_ID]);
    const { listeners } = tokens as unknown as { listeners: Set<unknown> };
    const cache = new TokenAnswerCache(tokens.asService());
    // Registered first: otherwise "removed" below would prove nothing.
    expect(listeners.size).toBe(1);
    cache.onModuleDestroy();
    expect(listeners.size).toBe(0);
  });
});
