import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WechatSandbox } from 'nestjs-wechat-token/testing';
import type { SoakAccount } from './accounts.js';
import { ServedTokens } from './served-tokens.js';
import { Timeline } from './timeline.js';

const ACCOUNT: SoakAccount = { ...WechatSandbox.randomAccount(), mode: 'token' };
const START = Date.UTC(2025, 0, 1, 2, 0, 0);
let clock = START;
const sandbox = new WechatSandbox({
  accounts: [ACCOUNT],
  lifetimeSeconds: 40,
  overlapSeconds: 15,
  now: () => clock,
});
let baseUrl = '';

async function issue(): Promise<string> {
  const query = new URLSearchParams({
    grant_type: 'client_credential',
    appid: ACCOUNT.appId,
    secret: ACCOUNT.secret,
  });
  const body = (await (await fetch(`${baseUrl}/cgi-bin/token?${query}`)).json()) as { access_token: string };
  return body.access_token;
}

function quietTimeline(): Timeline {
  const timeline = new Timeline();
  timeline.note = () => undefined;
  return timeline;
}

beforeAll(async () => {
  baseUrl = await sandbox.start();
});

afterAll(async () => {
  await sandbox.stop();
});

describe('ServedTokens', () => {
  it('holds a token to its expires_in from receipt, to the millisecond', async () => {
    clock = START;
    const served = new ServedTokens(sandbox, quietTimeline());
    const token = await issue(); // dies at START + 40 s
    served.record({ account: ACCOUNT, token, expiresIn: 25, receivedAt: START + 15_000, replica: 'r0' });
    served.record({ account: ACCOUNT, token, expiresIn: 25, receivedAt: START + 15_001, replica: 'r1' });
    expect(served.verdict()).toMatchObject({
      answers: 2,
      deadAtReceipt: 0,
      brokenPromises: 1,
      brokenByUnder100Ms: 1,
      brokenTokens: 1,
      worstShortfallMs: 1,
    });
  });

  it('sees a later fetch cut a promise short, and a token served once it is dead', async () => {
    clock = START;
    const served = new ServedTokens(sandbox, quietTimeline());
    const first = await issue();
    served.record({ account: ACCOUNT, token: first, expiresIn: 30, receivedAt: START + 1000, replica: 'r0' });
    expect(served.verdict().brokenPromises).toBe(0);
    clock = START + 5000;
    await issue(); // `first` now dies at START + 20 s (overlap)
    await issue(); // and now at START + 5 s: older than the previous token
    expect(served.verdict()).toMatchObject({ brokenPromises: 1, worstShortfallMs: 26_000 });
    served.record({ account: ACCOUNT, token: first, expiresIn: 1, receivedAt: START + 5000, replica: 'r1' });
    served.record({
      account: ACCOUNT,
      token: 'never-issued',
      expiresIn: 1,
      receivedAt: START,
      replica: 'r2',
    });
    expect(served.verdict()).toMatchObject({ answers: 3, deadAtReceipt: 2, deadTokens: 2 });
  });

  it('does not accept another account’s or another endpoint’s token', async () => {
    clock = START;
    const served = new ServedTokens(sandbox, quietTimeline());
    const token = await issue();
    served.record({
      account: { ...ACCOUNT, mode: 'stable' },
      token,
      expiresIn: 10,
      receivedAt: START,
      replica: 'r0',
    });
    expect(served.verdict().deadAtReceipt).toBe(1);
  });
});
