import { stopping } from '../bench/support/cleanup.js';
import type { BenchPostgres } from '../bench/support/postgres.js';
import { sleep } from '../bench/support/report.js';
import type { SandboxFault, WechatSandbox } from 'nestjs-wechat-token/testing';
import type { SoakAccount } from './accounts.js';
import type { DatabaseProbe } from './database-probe.js';
import type { ChaosPlay } from './fault-coverage.js';
import type { Monitor } from './monitor.js';
import type { Prng } from './prng.js';
import type { ReplicaSet, ReplicaSlot } from './replicas.js';
import { LOCK_WAIT_MS, SOAK } from './settings.js';
import type { Timeline } from './timeline.js';

/** The chaos actions; every round of the schedule plays each once, in a seeded order. */
export const CHAOS_ACTIONS = [
  'kill',
  'kill-mid-fetch',
  'freeze',
  'freeze-mid-fetch',
  'postgres-restart',
  'late-answer',
  'errcode',
  'http-500',
  'non-json',
  'drop-connection',
] as const;
export type ChaosAction = (typeof CHAOS_ACTIONS)[number];

/** What the chaos did. */
export interface ChaosCounts {
  actions: number;
  /** SIGKILLs, of which while the replica held the refresh lock with a call pending at the sandbox. */
  kills: number;
  midFetchKills: number;
  /** SIGSTOPs longer than the lock wait, of which mid-fetch. */
  freezes: number;
  midFetchFreezes: number;
  /** Mid-fetch actions that found no fetch or no lock holder in time, so did nothing. */
  midFetchMissed: number;
  postgresRestarts: number;
  /** Sandbox faults queued, by action. */
  faults: Map<ChaosAction, number>;
  /** Actions skipped: their replica was down, or their account did not get over the previous fault in time. */
  skipped: number;
}

/** How an action played out (see `ChaosPlay`). */
type Played = Omit<ChaosPlay, 'action'>;

/** Everything the chaos acts on. */
export interface ChaosTargets {
  replicas: ReplicaSet;
  sandbox: WechatSandbox;
  postgres: BenchPostgres;
  probe: DatabaseProbe;
  monitor: Monitor;
  accounts: SoakAccount[];
  timeline: Timeline;
}

/**
 * One step of the plan, drawn whole from the seed before it runs (every
 * field, used or not, in the same order), so the plan never depends on how
 * the run went: the same seed gives the same steps.
 */
interface ChaosStep {
  number: number;
  gapMs: number;
  action: ChaosAction;
  account: SoakAccount;
  slot: number;
  restartDelayMs: number;
  frozenMs: number;
  postgresDownMs: number;
  /** Late, but within what the replicas are told WeChat may take (timeout + WECHAT_LATE_ANSWER_MS). */
  lateDelayMs: number;
}

/**
 * The chaos loop: one action at a time, at seeded random intervals, for the
 * run's length; each round of the schedule plays every action once, in a
 * seeded order. The seed fixes the plan (which action, on which replica or
 * account, how long, after which pause); when an action lands depends on the
 * machine, so a replay repeats the plan, not every interleaving. Faults do
 * not pile up into an outage no server could ride out: a fault for an account
 * waits until the account got a token after its previous one.
 */
export class Chaos {
  readonly counts: ChaosCounts = {
    actions: 0,
    kills: 0,
    midFetchKills: 0,
    freezes: 0,
    midFetchFreezes: 0,
    midFetchMissed: 0,
    postgresRestarts: 0,
    faults: new Map(),
    skipped: 0,
  };
  /** Every action performed, and how it played out (fault-coverage.ts reads them). */
  readonly plays: ChaosPlay[] = [];
  /** Per account with a fault waiting: its sandbox call count when the fault was queued. */
  private readonly waitingFaults = new Map<string, number>();
  private deck: ChaosAction[] = [];
  private steps = 0;

  constructor(
    private readonly rng: Prng,
    private readonly targets: ChaosTargets,
  ) {}

  /** Runs steps until `until` (epoch ms); the last one started is finished first. */
  async run(until: number): Promise<void> {
    for (;;) {
      const step = this.plan();
      if (Date.now() + step.gapMs >= until) break;
      await sleep(step.gapMs);
      if (stopping()) break; // Ctrl-C
      this.counts.actions += 1;
      this.plays.push({ action: step.action, ...(await this.perform(step, until)) });
    }
  }

  private plan(): ChaosStep {
    const { rng } = this;
    if (this.deck.length === 0) this.deck = rng.shuffle(CHAOS_ACTIONS);
    return {
      number: ++this.steps,
      gapMs: rng.within(SOAK.chaosGapMs),
      action: this.deck.shift()!,
      account: rng.pick(this.targets.accounts),
      slot: rng.int(0, SOAK.replicas - 1),
      restartDelayMs: rng.within(SOAK.restartDelayMs),
      frozenMs: LOCK_WAIT_MS + rng.int(500, 3000),
      postgresDownMs: rng.within(SOAK.postgresDownMs),
      // 50 ms inside the bound: the replica's clock starts before the call reaches the sandbox.
      lateDelayMs: rng.int(SOAK.httpTimeoutMs + 100, SOAK.httpTimeoutMs + SOAK.lateAnswerMs - 50),
    };
  }

  private async perform(step: ChaosStep, until: number): Promise<Played> {
    switch (step.action) {
      case 'kill':
      case 'freeze': {
        const slot = this.targets.replicas.slots[step.slot];
        if (!slot.available) return this.skip(step, `replica ${step.slot} is down`);
        if (step.action === 'kill') await this.killAndRestart(step, slot, 'at random');
        else await this.freezeAndThaw(step, slot, 'at random');
        return { result: 'done' };
      }
      case 'kill-mid-fetch':
        return this.midFetch(step, 'kill', until);
      case 'freeze-mid-fetch':
        return this.midFetch(step, 'freeze', until);
      case 'postgres-restart':
        return this.restartPostgres(step);
      case 'late-answer':
        return this.fault(step, { delayMs: step.lateDelayMs }, until);
      case 'errcode':
        return this.fault(step, { errcode: -1 }, until);
      case 'http-500':
        return this.fault(step, { httpStatus: 500 }, until);
      case 'non-json':
        return this.fault(step, { nonJsonBody: true }, until);
      case 'drop-connection':
        return this.fault(step, { dropConnection: true }, until);
    }
  }

  /**
   * Queues a slow answer (shorter than the HTTP timeout) for the step's
   * account, waits for the next fetch to reach the sandbox, finds the replica
   * holding that account's lock while the call is pending, and kills or
   * freezes it.
   */
  private async midFetch(step: ChaosStep, kind: 'kill' | 'freeze', until: number): Promise<Played> {
    const { sandbox, probe, replicas } = this.targets;
    const { account } = step;
    const settled = await this.accountSettled(account, until);
    if (settled !== 'settled')
      return this.skip(step, `the ${account.mode} account is still disturbed`, settled === 'cut');
    // A miss (no holder found in time, its call already answered) tries again on the
    // account's next fetch, until a token's lifetime has passed: no random draw is made.
    const deadline = Math.min(Date.now() + SOAK.lifetimeSeconds * 1000, until);
    let slot: ReplicaSlot | undefined;
    while (!slot) {
      const calls = sandbox.fetchCount(account.appId);
      const queuedAt = Date.now();
      this.queue(account, { delayMs: SOAK.httpTimeoutMs - 200 });
      while (sandbox.fetchCount(account.appId) === calls) {
        if (Date.now() >= deadline) {
          this.counts.midFetchMissed += 1;
          const cut = deadline === until;
          this.note(
            step,
            `${kind} mid-fetch: no ${account.mode} fetch came ${cut ? 'before the end' : 'in time'}; nothing done`,
          );
          return { result: cut ? 'cut' : 'missed' };
        }
        await sleep(10);
      }
      let holderName: string | undefined;
      const holderDeadline = Date.now() + 500;
      while (holderName === undefined && Date.now() < holderDeadline) {
        holderName = await probe.refreshLockHolder(account.appId).catch(() => undefined);
        if (holderName === undefined) await sleep(10);
      }
      const holder = holderName === undefined ? undefined : replicas.byName(holderName);
      const found = holder && replicas.slots[holder.slot];
      if (found && found.current === holder && found.available && this.callPending(account, queuedAt)) {
        slot = found;
        break;
      }
      this.note(
        step,
        `${kind} mid-fetch: ${holderName ? `${holderName} holds the ${account.mode} lock but its call is no longer pending` : `no replica found holding the ${account.mode} lock`}; trying on the next fetch`,
      );
    }
    const what = `mid-fetch (holds the ${account.mode} account's lock, its call pending at the sandbox)`;
    if (kind === 'kill') {
      this.counts.midFetchKills += 1;
      await this.killAndRestart(step, slot, what);
    } else {
      this.counts.midFetchFreezes += 1;
      await this.freezeAndThaw(step, slot, what);
    }
    return { result: 'done' };
  }

  private async killAndRestart(step: ChaosStep, slot: ReplicaSlot, why: string): Promise<void> {
    const { replicas, monitor } = this.targets;
    const victim = await replicas.kill(slot);
    this.counts.kills += 1;
    this.note(step, `SIGKILL ${victim.name} ${why}`);
    monitor.afterKill(victim);
    await sleep(step.restartDelayMs);
    if (await replicas.restart(slot)) this.note(step, `started ${slot.current!.name}`);
  }

  private async freezeAndThaw(step: ChaosStep, slot: ReplicaSlot, why: string): Promise<void> {
    const { replicas } = this.targets;
    const name = slot.current!.name;
    replicas.freeze(slot);
    this.counts.freezes += 1;
    this.note(step, `SIGSTOP ${name} for ${(step.frozenMs / 1000).toFixed(1)} s ${why}`);
    await sleep(step.frozenMs);
    replicas.thaw(slot);
    this.note(step, `SIGCONT ${name}`);
  }

  private async restartPostgres(step: ChaosStep): Promise<Played> {
    const { postgres } = this.targets;
    this.note(step, `Postgres stopped for ${(step.postgresDownMs / 1000).toFixed(1)} s`);
    await postgres.stopServer();
    await sleep(step.postgresDownMs);
    // After Ctrl-C a Postgres started now could outlive the soak.
    if (stopping()) return { result: 'cut' };
    await postgres.startServer();
    this.counts.postgresRestarts += 1;
    this.note(step, 'Postgres started again');
    return { result: 'done' };
  }

  private async fault(step: ChaosStep, fault: SandboxFault, until: number): Promise<Played> {
    const { account } = step;
    const settled = await this.accountSettled(account, until);
    if (settled !== 'settled')
      return this.skip(step, `the ${account.mode} account is still disturbed`, settled === 'cut');
    const callIndex = this.queue(account, fault);
    this.counts.faults.set(step.action, (this.counts.faults.get(step.action) ?? 0) + 1);
    this.note(step, `sandbox: next ${account.mode} fetch gets ${JSON.stringify(fault)}`);
    return { result: 'done', fault: { appId: account.appId, callIndex } };
  }

  /** Queues a fault for the account's next call; returns the account's calls so far (that call's index). */
  private queue(account: SoakAccount, fault: SandboxFault): number {
    const { sandbox } = this.targets;
    sandbox.injectFault({ ...fault, appId: account.appId, times: 1 });
    const calls = sandbox.fetchCount(account.appId);
    this.waitingFaults.set(account.appId, calls);
    return calls;
  }

  /**
   * Waits until the account is over its last disturbance: our last fault was
   * taken by a call (faults apply to the next call, first in first out), and
   * the account's latest call brought a token. So each fault meets a replica
   * that holds a token, not one still retrying after the previous fault.
   * `disturbed` if that takes longer than a token's lifetime, `cut` if the
   * run ends first.
   */
  private async accountSettled(
    account: SoakAccount,
    until: number,
  ): Promise<'settled' | 'disturbed' | 'cut'> {
    const { sandbox } = this.targets;
    const deadline = Math.min(Date.now() + SOAK.lifetimeSeconds * 1000, until);
    const settled = () => {
      if (this.waitingFaults.get(account.appId) === sandbox.fetchCount(account.appId)) return false;
      const last = sandbox
        .stats()
        .log.filter((call) => call.appId === account.appId)
        .at(-1);
      return last === undefined || (last.httpStatus === 200 && last.errcode === 0);
    };
    while (!settled()) {
      if (Date.now() >= deadline) return deadline === until ? 'cut' : 'disturbed';
      await sleep(200);
    }
    return 'settled';
  }

  /** Whether the account's newest call since `since` is still waiting for its answer at the sandbox. */
  private callPending(account: SoakAccount, since: number): boolean {
    const calls = this.targets.sandbox.stats().log.filter((call) => call.appId === account.appId);
    const last = calls.at(-1);
    return last !== undefined && last.at >= since && last.httpStatus === null && !last.dropped;
  }

  /** Notes an action not done: missed when it had its chance, cut when the run ended first. */
  private skip(step: ChaosStep, why: string, cut = false): Played {
    this.counts.skipped += 1;
    this.note(step, `${step.action} skipped: ${cut ? 'the run ends first' : why}`);
    return { result: cut ? 'cut' : 'missed' };
  }

  private note(step: ChaosStep, text: string): void {
    this.targets.timeline.note('chaos', `#${step.number} ${text}`);
  }
}
