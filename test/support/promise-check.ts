import type { WechatSandbox } from 'nestjs-wechat-token/testing';

/** A token as a client received it: the promise to check at the sandbox. */
export interface ReceivedToken {
  token: string;
  /** `expires_in` as handed out, seconds. */
  expiresIn: number;
  /** Sandbox clock when the answer was in the client's hands. */
  receivedAt: number;
  /** Who handed it out (a replica index, say), for the report. */
  from?: string;
}

/** A served token that WeChat (the sandbox) killed too soon, or had killed already. */
export interface BrokenPromise {
  from?: string;
  /** `dead`: not working when it was received; `short`: died before its `expires_in` ran out. */
  kind: 'dead' | 'short';
  /** By how much, ms (for `short`), or how long it had been dead (for `dead`). */
  byMs: number;
  expiresIn: number;
}

/**
 * Keeps every token (or ticket, with `kind: 'ticket'`) handed to a client
 * with its `expires_in`, and checks each promise against the sandbox's own
 * record of when it stops working: asking WeChat, not believing the server.
 */
export class PromiseCheck {
  readonly received: ReceivedToken[] = [];

  constructor(
    private readonly sandbox: WechatSandbox,
    private readonly kind: 'token' | 'ticket' = 'token',
  ) {}

  /**
   * Records a WeChat-shaped answer (`{access_token, expires_in}`, or
   * `{ticket, expires_in}` for tickets, or an error); returns whether it held one.
   */
  record(answer: unknown, from?: string): boolean {
    const body = answer as { access_token?: unknown; ticket?: unknown; expires_in?: unknown };
    const value = this.kind === 'ticket' ? body?.ticket : body?.access_token;
    if (typeof value !== 'string' || typeof body.expires_in !== 'number') return false;
    this.received.push({ token: value, expiresIn: body.expires_in, receivedAt: this.sandbox.now(), from });
    return true;
  }

  /**
   * Every promise broken so far: a token dead at WeChat when it was received,
   * or one WeChat has killed (or scheduled to expire) before `receivedAt +
   * expires_in`. A token WeChat has not killed yet counts until its expiry, so
   * call this once the run is over and no fetch can follow.
   */
  broken(): BrokenPromise[] {
    const broken: BrokenPromise[] = [];
    for (const { token, expiresIn, receivedAt, from } of this.received) {
      const life = this.kind === 'ticket' ? this.sandbox.ticketLife(token) : this.sandbox.tokenLife(token);
      const end = life ? Math.min(life.diesAt, life.expiresAt) : -Infinity;
      if (end <= receivedAt) {
        broken.push({ from, kind: 'dead', byMs: receivedAt - end, expiresIn });
      } else if (end < receivedAt + expiresIn * 1000) {
        broken.push({ from, kind: 'short', byMs: receivedAt + expiresIn * 1000 - end, expiresIn });
      }
    }
    return broken;
  }

  /** The distinct tokens received, in order of first receipt. */
  tokens(): string[] {
    return [...new Set(this.received.map((entry) => entry.token))];
  }
}

/** Something that answers `GET /cgi-bin/token` for an account, like a replica. */
export interface TokenSource {
  token(account: { appId: string; secret: string }): Promise<unknown>;
  readonly alive?: boolean;
}

/** What a driver saw: answers with a token, and answers without (errcode by count). */
export interface DriverTally {
  asks: number;
  tokens: number;
  errors: Map<string, number>;
}

/**
 * Asks every source for the token every `everyMs` until stopped, recording
 * each answer in `promises`. Bounded by `maxMs` whatever happens.
 */
export function driveTokens(
  sources: () => TokenSource[],
  account: { appId: string; secret: string },
  promises: PromiseCheck,
  options: { everyMs?: number; maxMs?: number } = {},
): { tally: DriverTally; stop(): Promise<DriverTally> } {
  const tally: DriverTally = { asks: 0, tokens: 0, errors: new Map() };
  const everyMs = options.everyMs ?? 200;
  const deadline = Date.now() + (options.maxMs ?? 180_000);
  let running = true;
  const loop = (async () => {
    while (running && Date.now() < deadline) {
      const started = Date.now();
      await Promise.all(
        sources().map(async (source, index) => {
          if (source.alive === false) return;
          tally.asks += 1;
          let answer: unknown;
          try {
            answer = await source.token(account);
          } catch (error) {
            answer = { errcode: `${(error as Error).name}` };
          }
          if (promises.record(answer, `source ${index}`)) tally.tokens += 1;
          else {
            const key = String((answer as { errcode?: unknown })?.errcode);
            tally.errors.set(key, (tally.errors.get(key) ?? 0) + 1);
          }
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + everyMs - Date.now())));
    }
  })();
  return {
    tally,
    async stop() {
      running = false;
      await loop;
      return tally;
    },
  };
}
