import { sleep } from '../bench/support/report.js';
import type { SoakAccount } from './accounts.js';
import type { ReplicaSet, ReplicaSlot } from './replicas.js';
import type { ServedTokens } from './served-tokens.js';
import { SOAK } from './settings.js';

/** What the asks came to. */
export interface DriverCounts {
  asks: number;
  /** Answers carrying a token (all of them are proven at the sandbox). */
  tokens: number;
  /** Asks sent to a replica that was up, and stayed up until the answer: the ones the answered share counts. */
  whileUp: number;
  whileUpTokens: number;
  /** Failed asks by what came back (`errcode -1`, `http 503`, `timeout`, `refused`, `network`, `malformed`), replica up. */
  failuresWhileUp: Map<string, number>;
  /** The same for asks that met a replica killed, frozen or restarting. */
  failuresWhileDown: Map<string, number>;
}

/**
 * The clients: for every replica and account, one loop asking for the token
 * the way another server would (`GET /cgi-bin/token`, or `POST
 * /cgi-bin/stable_token` for the stable account) about three times a second,
 * each ask given up after 2 s. Every token answer goes to `ServedTokens` the
 * moment it arrives.
 */
export class Driver {
  readonly counts: DriverCounts = {
    asks: 0,
    tokens: 0,
    whileUp: 0,
    whileUpTokens: 0,
    failuresWhileUp: new Map(),
    failuresWhileDown: new Map(),
  };
  private stopping = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly replicas: ReplicaSet,
    private readonly accounts: SoakAccount[],
    private readonly served: ServedTokens,
  ) {}

  /** Starts the loops; they end on `stop()`, or at `hardStopAt` (epoch ms) whatever happens. */
  start(hardStopAt: number): void {
    const pairs = this.replicas.slots.flatMap((slot) => this.accounts.map((account) => ({ slot, account })));
    this.loops = pairs.map(({ slot, account }, i) =>
      this.loop(slot, account, (i * SOAK.askIntervalMs) / pairs.length, hardStopAt),
    );
  }

  /** Ends the loops once their current ask is over (at most the ask timeout). */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  private async loop(slot: ReplicaSlot, account: SoakAccount, offsetMs: number, hardStopAt: number) {
    await sleep(offsetMs);
    while (!this.stopping && Date.now() < hardStopAt) {
      const startedAt = Date.now();
      await this.ask(slot, account);
      const wait = startedAt + SOAK.askIntervalMs - Date.now();
      if (wait > 0) await sleep(wait);
    }
  }

  private async ask(slot: ReplicaSlot, account: SoakAccount): Promise<void> {
    const incarnation = slot.current;
    if (!incarnation) return;
    const epoch = slot.epoch;
    const upAtSend = slot.available;
    this.counts.asks += 1;
    let outcome: string | { token: string; expiresIn: number; receivedAt: number };
    try {
      const response = await fetch(requestUrl(incarnation.url, account), {
        ...requestInit(account),
        signal: AbortSignal.timeout(SOAK.askTimeoutMs),
      });
      const text = await response.text();
      const receivedAt = Date.now();
      outcome = response.status === 200 ? readAnswer(text, receivedAt) : `http ${response.status}`;
    } catch (error) {
      outcome = transportFailure(error);
    }
    const up = upAtSend && slot.available && slot.epoch === epoch && slot.current === incarnation;
    if (up) this.counts.whileUp += 1;
    if (typeof outcome === 'string') {
      const failures = up ? this.counts.failuresWhileUp : this.counts.failuresWhileDown;
      failures.set(outcome, (failures.get(outcome) ?? 0) + 1);
      return;
    }
    this.counts.tokens += 1;
    if (up) this.counts.whileUpTokens += 1;
    this.served.record({ account, ...outcome, replica: incarnation.name });
  }
}

function requestUrl(base: string, account: SoakAccount): string {
  if (account.mode === 'stable') return `${base}/cgi-bin/stable_token`;
  const query = new URLSearchParams({
    grant_type: 'client_credential',
    appid: account.appId,
    secret: account.secret,
  });
  return `${base}/cgi-bin/token?${query}`;
}

function requestInit(account: SoakAccount): RequestInit {
  if (account.mode !== 'stable') return { method: 'GET' };
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credential', appid: account.appId, secret: account.secret }),
  };
}

/** A token answer, or what else the body was (`errcode 40001`, `malformed`). */
function readAnswer(
  text: string,
  receivedAt: number,
): string | { token: string; expiresIn: number; receivedAt: number } {
  let body: { access_token?: unknown; expires_in?: unknown; errcode?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return 'malformed';
  }
  const { access_token: token, expires_in: expiresIn, errcode } = body ?? {};
  if (typeof token === 'string' && token !== '' && Number.isInteger(expiresIn) && Number(expiresIn) > 0) {
    return { token, expiresIn: Number(expiresIn), receivedAt };
  }
  return typeof errcode === 'number' ? `errcode ${errcode}` : 'malformed';
}

function transportFailure(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return 'timeout';
  const code = (error as { cause?: { code?: unknown } })?.cause?.code;
  return code === 'ECONNREFUSED' ? 'refused' : 'network';
}
