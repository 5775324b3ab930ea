import { createHash, randomBytes } from 'node:crypto';

/** Seconds a web-authorization (OAuth) user access_token lives, as WeChat's do. */
export const USER_TOKEN_LIFETIME_SECONDS = 7200;

/** User tokens kept at most, so a sandbox left running does not grow forever. */
const USER_TOKEN_LIMIT = 10_000;

/** A user access_token issued by `/sns/oauth2/access_token`. */
export interface UserToken {
  readonly appId: string;
  readonly openid: string;
  readonly expiresAt: number;
}

/**
 * The user behind a login code: the same appid and code always give the same
 * openid (28 characters starting with `o`, as WeChat's) and session_key
 * (16 bytes in base64), so a test can call twice and compare.
 */
export function snsIdentity(appId: string, code: string): { openid: string; sessionKey: string } {
  const digest = (purpose: string): Buffer =>
    createHash('sha256').update(`${purpose}\0${appId}\0${code}`).digest();
  return {
    openid: `o${digest('openid').toString('base64url').slice(0, 27)}`,
    sessionKey: digest('session_key').subarray(0, 16).toString('base64'),
  };
}

/**
 * The user access_tokens (web authorization) issued, apart from the app
 * tokens: a user token is refused where an app token is expected, and the
 * other way round.
 */
export class SandboxUserTokens {
  /** Insertion order is issue order, so the oldest is the first key. */
  private readonly tokens = new Map<string, UserToken>();

  /** Issues a user token, with a refresh_token, for an openid of an app. */
  issue(
    appId: string,
    openid: string,
    now: number,
  ): { accessToken: string; refreshToken: string; token: UserToken } {
    const accessToken = randomBytes(80).toString('base64url');
    const token: UserToken = { appId, openid, expiresAt: now + USER_TOKEN_LIFETIME_SECONDS * 1000 };
    this.tokens.set(accessToken, token);
    if (this.tokens.size > USER_TOKEN_LIMIT) this.tokens.delete(this.tokens.keys().next().value as string);
    return { accessToken, refreshToken: randomBytes(80).toString('base64url'), token };
  }

  /** The user token issued under this value, if any. */
  find(value: string): UserToken | undefined {
    return this.tokens.get(value);
  }

  /** Forgets every user token. */
  clear(): void {
    this.tokens.clear();
  }
}
