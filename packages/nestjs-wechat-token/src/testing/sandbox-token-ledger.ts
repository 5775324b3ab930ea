import { randomBytes, randomInt } from 'node:crypto';
import type { SandboxEndpoint, SandboxTokenState } from './wechat-sandbox.types.js';

/** A token the sandbox issued, with the times that decide its state. */
export interface IssuedToken {
  readonly value: string;
  readonly kind: SandboxEndpoint;
  readonly appId: string;
  /** When the sandbox issued it, epoch ms. */
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** When a newer token killed it; Infinity while nothing did. */
  diesAt: number;
}

/** Dead tokens are remembered this long so they still read `expired`/`replaced`, not `unknown`. */
const MEMORY_MS = 24 * 60 * 60 * 1000;

/**
 * Every token issued, per appid and kind. `/cgi-bin/token` and
 * `/cgi-bin/stable_token` tokens are kept apart because WeChat keeps them
 * apart: a fetch of one kind never affects the other.
 */
export class SandboxTokenLedger {
  private readonly byValue = new Map<string, IssuedToken>();
  /** Tokens per `kind appId`, oldest first. */
  private readonly histories = new Map<string, IssuedToken[]>();

  /** Issues a new token valid for `lifetimeMs`; what happens to older ones is up to `cutOff`. */
  issue(kind: SandboxEndpoint, appId: string, now: number, lifetimeMs: number): IssuedToken {
    const token: IssuedToken = {
      value: generateTokenValue(),
      kind,
      appId,
      issuedAt: now,
      expiresAt: now + lifetimeMs,
      diesAt: Infinity,
    };
    const history = this.history(kind, appId);
    this.forget(history, now);
    history.push(token);
    this.byValue.set(token.value, token);
    return token;
  }

  /**
   * Ends the existing tokens of an appid and kind: the newest one `graceMs`
   * from now, all older ones at once. Never extends a token.
   */
  cutOff(kind: SandboxEndpoint, appId: string, now: number, graceMs: number): void {
    const history = this.history(kind, appId);
    history.forEach((token, index) => {
      const isNewest = index === history.length - 1;
      token.diesAt = Math.min(token.diesAt, isNewest ? now + graceMs : now);
    });
  }

  /** Kills one token now (never extends it); false if it was never issued. */
  revoke(value: string, now: number): boolean {
    const token = this.byValue.get(value);
    if (!token) return false;
    token.diesAt = Math.min(token.diesAt, now);
    return true;
  }

  /** The most recently issued token of an appid and kind, if any. */
  newest(kind: SandboxEndpoint, appId: string): IssuedToken | undefined {
    return this.histories.get(key(kind, appId))?.at(-1);
  }

  /** A token as issued, with its times as they stand now (a copy); undefined for a token never issued or forgotten. */
  find(value: string): IssuedToken | undefined {
    const token = this.byValue.get(value);
    return token && { ...token };
  }

  /** A token's state at `now`. */
  state(value: string, now: number): SandboxTokenState {
    const token = this.byValue.get(value);
    if (!token) return 'unknown';
    if (now < Math.min(token.diesAt, token.expiresAt)) return 'live';
    return token.diesAt < token.expiresAt ? 'replaced' : 'expired';
  }

  /** Forgets every token. */
  clear(): void {
    this.byValue.clear();
    this.histories.clear();
  }

  private history(kind: SandboxEndpoint, appId: string): IssuedToken[] {
    let history = this.histories.get(key(kind, appId));
    if (!history) {
      history = [];
      this.histories.set(key(kind, appId), history);
    }
    return history;
  }

  /** Drops tokens dead for long, so a sandbox left running (the demo) does not grow forever. */
  private forget(history: IssuedToken[], now: number): void {
    while (history.length > 0 && Math.min(history[0].diesAt, history[0].expiresAt) < now - MEMORY_MS) {
      this.byValue.delete(history[0].value);
      history.shift();
    }
  }
}

function key(kind: SandboxEndpoint, appId: string): string {
  return `${kind} ${appId}`;
}

/**
 * A random token shaped like WeChat's: a short numeric prefix, `_`, then
 * URL-safe base64, 136 to 160 characters in all.
 */
function generateTokenValue(): string {
  const length = randomInt(136, 161);
  const prefix = `${randomInt(10, 100)}_`;
  return (
    prefix +
    randomBytes(120)
      .toString('base64url')
      .slice(0, length - prefix.length)
  );
}
