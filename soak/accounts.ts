import { randomBytes } from 'node:crypto';

/** An account as the replicas (WECHAT_ACCOUNTS) and the sandbox know it. */
export interface SoakAccount {
  appId: string;
  secret: string;
  /** `stable`: the replicas fetch it with `/cgi-bin/stable_token`. */
  mode: 'token' | 'stable';
}

/** The soak's two accounts, one of each mode, with random credentials shaped like WeChat's. */
export function soakAccounts(): SoakAccount[] {
  return (['token', 'stable'] as const).map((mode) => ({
    appId: `wx${randomBytes(8).toString('hex')}`,
    secret: randomBytes(16).toString('hex'),
    mode,
  }));
}

/** The sandbox endpoint that issues the account's tokens. */
export function endpointOf(account: SoakAccount): 'token' | 'stable_token' {
  return account.mode === 'stable' ? 'stable_token' : 'token';
}
