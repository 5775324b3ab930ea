import { mask } from 'nestjs-wechat-token';
import type { WechatSandbox } from 'nestjs-wechat-token/testing';
import { endpointOf, type SoakAccount } from './accounts.js';
import type { Timeline } from './timeline.js';

/** A token answer as a client received it. */
export interface ServedAnswer {
  account: SoakAccount;
  token: string;
  /** `expires_in` of the answer, seconds. */
  expiresIn: number;
  /** When the client had the whole answer (Date.now(), the sandbox's clock too: same process). */
  receivedAt: number;
  /** The replica that answered (its Postgres application_name). */
  replica: string;
}

/** One token as served, with every promise made with it. */
interface ServedToken {
  token: string;
  account: SoakAccount;
  /** receivedAt + expires_in of each answer carrying it. */
  promisedUntil: number[];
  /** The latest of `promisedUntil`, and the answer that made it. */
  latest: { until: number; receivedAt: number; expiresIn: number; replica: string };
  /** Whether a broken promise of this token was already printed. */
  noted: boolean;
}

/** What the served tokens came to, once no replica can fetch any more. */
export interface ServedVerdict {
  answers: number;
  tokens: number;
  /** Answers whose token was not live at the sandbox when received (dead, unknown or another account's). */
  deadAtReceipt: number;
  /** Distinct tokens among those. */
  deadTokens: number;
  /** Answers whose token died at the sandbox before receipt + expires_in. */
  brokenPromises: number;
  /**
   * Of which by less than 100 ms: the size of the answer's own latency plus the
   * replica's clock error, which only an `expires_in` with no margin left runs into.
   */
  brokenByUnder100Ms: number;
  /** Tokens with at least one broken promise. */
  brokenTokens: number;
  /** The largest gap between a promise and the token's death, ms (0 when none). */
  worstShortfallMs: number;
}

/** Printed violations of each kind, at most; the counts go on. */
const NOTE_LIMIT = 20;

/**
 * Proves every token a replica hands out at the sandbox, which knows when it
 * issued each token and when WeChat's rules kill it: live when received, and
 * alive at least `expires_in` seconds from receipt. A death is known as soon
 * as the fetch that causes it reaches the sandbox, so promises are checked
 * as the run goes and, for the verdict, once every replica has stopped.
 */
export class ServedTokens {
  private readonly served = new Map<string, ServedToken>();
  private answers = 0;
  private deadAtReceipt = 0;
  private readonly deadTokens = new Set<string>();
  private readonly notedDead = new Set<string>();
  private notedBroken = 0;

  constructor(
    private readonly sandbox: WechatSandbox,
    private readonly timeline: Timeline,
  ) {}

  /** Checks an answer the moment it arrived, and keeps its promise for later checks. */
  record(answer: ServedAnswer): void {
    this.answers += 1;
    const life = this.sandbox.tokenLife(answer.token);
    const where = `${answer.account.mode} account, from ${answer.replica}, expires_in ${answer.expiresIn}`;
    if (!life || life.appId !== answer.account.appId || life.endpoint !== endpointOf(answer.account)) {
      this.deadAtReceipt += 1;
      this.deadTokens.add(answer.token);
      this.noteDead(
        answer.token,
        `served ${mask(answer.token)} which the sandbox never issued to this account (${where})`,
      );
      return;
    }
    const deathAt = Math.min(life.diesAt, life.expiresAt);
    if (answer.receivedAt >= deathAt) {
      this.deadAtReceipt += 1;
      this.deadTokens.add(answer.token);
      const how = life.diesAt < life.expiresAt ? 'replaced' : 'expired';
      this.noteDead(
        answer.token,
        `served ${mask(answer.token)} ${how} at the sandbox ${((answer.receivedAt - deathAt) / 1000).toFixed(3)} s before receipt (${where})`,
      );
    }
    const until = answer.receivedAt + answer.expiresIn * 1000;
    let served = this.served.get(answer.token);
    if (!served) {
      served = {
        token: answer.token,
        account: answer.account,
        promisedUntil: [],
        latest: {
          until,
          receivedAt: answer.receivedAt,
          expiresIn: answer.expiresIn,
          replica: answer.replica,
        },
        noted: false,
      };
      this.served.set(answer.token, served);
    }
    served.promisedUntil.push(until);
    if (until > served.latest.until) {
      served.latest = {
        until,
        receivedAt: answer.receivedAt,
        expiresIn: answer.expiresIn,
        replica: answer.replica,
      };
    }
  }

  /** Prints each token's first broken promise as soon as the sandbox knows of the death. */
  notePromisesBroken(): void {
    for (const served of this.served.values()) {
      if (served.noted) continue;
      const deathAt = this.deathAt(served);
      if (deathAt === undefined || served.latest.until <= deathAt) continue;
      served.noted = true;
      if (++this.notedBroken > NOTE_LIMIT) continue;
      const { receivedAt, expiresIn, replica, until } = served.latest;
      this.timeline.note(
        'violation',
        `${served.account.mode} token ${mask(served.token)} served by ${replica} at ${this.timeline.offset(receivedAt).trim()} ` +
          `with expires_in ${expiresIn} dies at ${this.timeline.offset(deathAt).trim()}: ${((until - deathAt) / 1000).toFixed(3)} s short`,
      );
    }
  }

  /** The final counts: call once no replica runs any more, so no later fetch can kill a token. */
  verdict(): ServedVerdict {
    let brokenPromises = 0;
    let brokenByUnder100Ms = 0;
    let brokenTokens = 0;
    let worstShortfallMs = 0;
    for (const served of this.served.values()) {
      const deathAt = this.deathAt(served) ?? -Infinity;
      const broken = served.promisedUntil.filter((until) => until > deathAt);
      if (broken.length === 0) continue;
      brokenTokens += 1;
      brokenPromises += broken.length;
      brokenByUnder100Ms += broken.filter((until) => until - deathAt < 100).length;
      worstShortfallMs = Math.max(worstShortfallMs, Math.max(...broken) - deathAt);
    }
    return {
      answers: this.answers,
      tokens: this.served.size,
      deadAtReceipt: this.deadAtReceipt,
      deadTokens: this.deadTokens.size,
      brokenPromises,
      brokenByUnder100Ms,
      brokenTokens,
      worstShortfallMs: Number.isFinite(worstShortfallMs) ? worstShortfallMs : 0,
    };
  }

  private deathAt(served: ServedToken): number | undefined {
    const life = this.sandbox.tokenLife(served.token);
    return life && Math.min(life.diesAt, life.expiresAt);
  }

  /** Prints the first dead answer of each token (the count goes on in the verdict). */
  private noteDead(token: string, text: string): void {
    if (this.notedDead.has(token) || this.notedDead.size >= NOTE_LIMIT) return;
    this.notedDead.add(token);
    this.timeline.note('violation', `${text}; further answers with it are counted, not printed`);
  }
}
