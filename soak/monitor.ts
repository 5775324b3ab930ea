import { rssMB } from '../bench/support/processes.js';
import { sleep } from '../bench/support/report.js';
import type { DatabaseProbe } from './database-probe.js';
import type { Incarnation, ReplicaSet } from './replicas.js';
import type { ServedTokens } from './served-tokens.js';
import { SOAK } from './settings.js';
import type { Timeline } from './timeline.js';

/** What the monitor saw during the run. */
export interface MonitorFindings {
  /** The largest resident memory of any replica, and which. */
  maxRss: { mb: number; replica: string };
  rssSamples: number;
  /** Processes seen holding an advisory lock more than `deadLockGraceMs` after they died. */
  deadLockHolders: string[];
  /** Samples of pg_locks (all, and the ones taken right after a kill). */
  lockSamples: number;
  lockSamplesAfterKills: number;
  /** Replicas that exited, or did not start, without the chaos asking. */
  replicaFailures: string[];
}

/**
 * The continuous checks, once a second: each replica's resident memory,
 * advisory locks still held by a replica that died, and promises of served
 * tokens that the sandbox already knows are broken. Also the place where
 * replica failures are reported.
 */
export class Monitor {
  readonly findings: MonitorFindings = {
    maxRss: { mb: 0, replica: '' },
    rssSamples: 0,
    deadLockHolders: [],
    lockSamples: 0,
    lockSamplesAfterKills: 0,
    replicaFailures: [],
  };
  private timer?: NodeJS.Timeout;
  private tick?: Promise<void>;
  private readonly afterKills = new Set<Promise<void>>();
  private readonly overMemory = new Set<string>();

  constructor(
    private readonly replicas: ReplicaSet,
    private readonly probe: DatabaseProbe,
    private readonly served: ServedTokens,
    private readonly timeline: Timeline,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.tick ??= this.sample().finally(() => (this.tick = undefined));
    }, 1000);
  }

  /** Ends the sampling, after one last sample. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.tick;
    await Promise.all(this.afterKills);
    await this.sample();
  }

  /** A replica ended, or did not start, without the soak asking it to. */
  replicaFailed(incarnation: Incarnation, what: string): void {
    this.findings.replicaFailures.push(`${incarnation.name} ${what.split('\n')[0]}`);
    this.timeline.note('violation', `replica ${incarnation.name} ${what}`);
  }

  /** Looks at the locks once the killed process has been dead `deadLockGraceMs` (retried while Postgres is down). */
  afterKill(incarnation: Incarnation): void {
    const check = (async () => {
      await sleep(
        Math.max(0, (incarnation.exitedAt ?? Date.now()) + SOAK.deadLockGraceMs + 100 - Date.now()),
      );
      for (let attempt = 0; attempt < 10; attempt++) {
        if (await this.sampleLocks()) {
          this.findings.lockSamplesAfterKills += 1;
          return;
        }
        await sleep(1000);
      }
    })();
    this.afterKills.add(check);
    void check.finally(() => this.afterKills.delete(check));
  }

  private async sample(): Promise<void> {
    this.sampleRss();
    this.served.notePromisesBroken();
    await this.sampleLocks();
  }

  private sampleRss(): void {
    for (const incarnation of this.replicas.incarnations) {
      if (!incarnation.alive) continue;
      let mb: number;
      try {
        mb = rssMB(incarnation.pid);
      } catch {
        continue; // exited meanwhile
      }
      this.findings.rssSamples += 1;
      if (mb > this.findings.maxRss.mb) this.findings.maxRss = { mb, replica: incarnation.name };
      if (mb >= SOAK.rssLimitMB && !this.overMemory.has(incarnation.name)) {
        this.overMemory.add(incarnation.name);
        this.timeline.note('violation', `${incarnation.name} uses ${mb.toFixed(0)} MB of memory`);
      }
    }
  }

  /** One look at pg_locks; false when Postgres did not answer. */
  private async sampleLocks(): Promise<boolean> {
    let locks;
    try {
      locks = await this.probe.advisoryLocks();
    } catch {
      return false; // Postgres restarting
    }
    this.findings.lockSamples += 1;
    const now = Date.now();
    for (const lock of locks) {
      const holder = this.replicas.byName(lock.holder);
      if (!holder || holder.exitedAt === undefined || now - holder.exitedAt < SOAK.deadLockGraceMs) continue;
      if (this.findings.deadLockHolders.includes(holder.name)) continue;
      this.findings.deadLockHolders.push(holder.name);
      this.timeline.note(
        'violation',
        `advisory lock ${lock.classid}/${lock.objid} still held by ${holder.name} ` +
          `${((now - holder.exitedAt) / 1000).toFixed(1)} s after it died (backend ${lock.backendPid})`,
      );
    }
    return true;
  }
}
