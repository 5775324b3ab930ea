import { randomBytes, randomInt } from 'node:crypto';
import type { SandboxEndpoint, SandboxTokenState } from './wechat-sandbox.types.js';

/** A token (or ticket) the sandbox issued, with the times that decide its state. */
export interface IssuedToken<Kind extends string = SandboxEndpoint> {
  readonly value: string;
  /** The endpoint that issued a token; the type of a ticket. */
  readonly kind: Kind;
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
 * apart: a fetch of one kind never affects the other. A second ledger keeps
 * the tickets, their type as the kind, by the same rules.
 */
export class SandboxTokenLedger<Kind extends string = SandboxEndpoint> {
  private readonly byValue = new Map<string, IssuedToken<Kind>>();
  /** Tokens per `kind appId`, oldest first. */
  private readonly histories = new Map<string, IssuedToken<Kind>[]>();

  /** A ledger whose values `generate` makes (WeChat-looking access_tokens by default). */
  constructor(private readonly generate: () => string = generateTokenValue) {}

  /** Issues a new token valid for `lifetimeMs`; what happens to older ones is up to `cutOff`. */
  issue(kind: Kind, appId: string, now: number, lifetimeMs: number): IssuedToken<Kind> {
    const token: IssuedToken<Kind> = {
      value: this.generate(),
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
  cutOff(kind: Kind, appId: string, now: number, graceMs: number): void {
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
  newest(kind: Kind, appId: string): IssuedToken<Kind> | undefined {
    return this.histories.get(key(kind, appId))?.at(-1);
  }

  /** The values of an appid and kind that work at `now`, newest first. */
  live(kind: Kind, appId: string, now: number): string[] {
    const history = this.histories.get(key(kind, appId)) ?? [];
    return history
      .filter((token) => this.state(token.value, now) === 'live')
      .map((token) => token.value)
      .reverse();
  }

  /** Every value issued and still remembered (dead ones for a day), oldest first per appid and kind. */
  values(): string[] {
    return [...this.histories.values()].flatMap((history) => history.map((token) => token.value));
  }

  /** A token as issued, with its times as they stand now (a copy); undefined for a token never issued or forgotten. */
  find(value: string): IssuedToken<Kind> | undefined {
    const token = this.byValue.get(value);
    return token && { ...token };
  }

  /** The account a token was issued to, whatever its state (no copy: API calls ask it on every call). */
  owner(value: string): string | undefined {
    return this.byValue.get(value)?.appId;
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

  private history(kind: Kind, appId: string): IssuedToken<Kind>[] {
    let history = this.histories.get(key(kind, appId));
    if (!history) {
      history = [];
      this.histories.set(key(kind, appId), history);
    }
    return history;
  }

  /** Drops tokens dead for long, so a sandbox left running (the demo) does not grow forever. */
  private forget(history: IssuedToken<Kind>[], now: number): void {
    while (history.length > 0 && Math.min(history[0].diesAt, history[0].expiresAt) < now - MEMORY_MS) {
      this.byValue.delete(history[0].value);
      history.shift();
    }
  }
}

function key(kind: string, appId: string): string {
  return `${kind} ${appId}`;
}

/** A random ticket shaped like WeChat's jsapi_ticket: 86 characters of URL-safe base64. */
export function generateTicketValue(): string {
  return randomBytes(64).toString('base64url');
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
