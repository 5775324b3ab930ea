import { randomBytes } from 'node:crypto';
import { stopping } from '../bench/support/cleanup.js';
import {
  startServerProcess,
  waitHealthy,
  waitListening,
  type ServerProcess,
} from '../bench/support/server.js';
import type { SoakAccount } from './accounts.js';
import { SOAK } from './settings.js';
import type { Timeline } from './timeline.js';

/** One `node dist/main.js` process of a slot: a slot gets a new one each time the chaos kills the last. */
export class Incarnation {
  /** Set when the soak ends it on purpose (a chaos kill, or the end of the run). */
  expectedExit = false;
  exitedAt?: number;
  /** `code 1`, `SIGKILL`... once exited. */
  exitStatus?: string;

  constructor(
    readonly slot: number,
    /** Its Postgres `application_name` (`soak-r<slot>-g<generation>`): finds its locks in `pg_locks`. */
    readonly name: string,
    readonly server: ServerProcess,
  ) {}

  get pid(): number {
    return this.server.child.pid;
  }

  get url(): string {
    return this.server.url;
  }

  get alive(): boolean {
    return this.exitedAt === undefined;
  }
}

/** A place for one replica, whatever process fills it now. */
export class ReplicaSlot {
  current?: Incarnation;
  /** Whether the replica is up as far as the chaos knows: started, not killed, not frozen. */
  available = false;
  /** Bumped whenever the chaos disrupts the slot: an ask that saw it change did not find the replica up. */
  epoch = 0;
  frozen = false;
  generations = 0;

  constructor(readonly index: number) {}
}

/** What the replicas need to know of the rest of the soak. */
export interface ReplicaSetOptions {
  root: string;
  databaseUrl: string;
  sandboxUrl: string;
  accounts: SoakAccount[];
  timeline: Timeline;
  /** A replica ended (or did not start) without the soak asking it to. */
  onFailure: (incarnation: Incarnation, what: string) => void;
}

/** The replicas' settings (besides the database, accounts and sandbox): see settings.ts. */
const REPLICA_ENV: Record<string, string> = {
  TOKEN_REFRESH_CRON: '* * * * * *',
  WECHAT_HTTP_TIMEOUT_MS: String(SOAK.httpTimeoutMs),
  WECHAT_TOKEN_OVERLAP_SECONDS: String(SOAK.overlapSeconds),
  WECHAT_LATE_ANSWER_MS: String(SOAK.lateAnswerMs),
  TOKEN_RESYNC_SECONDS: String(SOAK.resyncSeconds),
  // Tokens stored sealed: every read of the chaos goes through the encryption too.
  SECRETS_KEY: randomBytes(32).toString('base64'),
};

const START_TIMEOUT_MS = 60_000;

/**
 * The soak's server processes, one per slot, on one database and one
 * sandbox. Kills, freezes and restarts them for the chaos, tells every exit
 * it did not cause, and knows every process it ever started by its Postgres
 * `application_name`.
 */
export class ReplicaSet {
  readonly slots: ReplicaSlot[];
  /** Every process started, in order. */
  readonly incarnations: Incarnation[] = [];
  private closing = false;

  constructor(private readonly options: ReplicaSetOptions) {
    this.slots = Array.from({ length: SOAK.replicas }, (_, index) => new ReplicaSlot(index));
  }

  /** Starts the first replica alone (it applies the migrations), then the others; each until healthy. */
  async startAll(): Promise<void> {
    await this.launch(this.slots[0], 'healthy');
    await Promise.all(this.slots.slice(1).map((slot) => this.launch(slot, 'healthy')));
  }

  /** The process with this `application_name`, dead or alive. */
  byName(name: string): Incarnation | undefined {
    return this.incarnations.find((incarnation) => incarnation.name === name);
  }

  /** Slots whose replica is up (the chaos picks its targets among them). */
  available(): ReplicaSlot[] {
    return this.slots.filter((slot) => slot.available);
  }

  /** SIGKILL; resolves once the process is gone. */
  async kill(slot: ReplicaSlot): Promise<Incarnation> {
    const incarnation = slot.current!;
    this.disrupt(slot);
    incarnation.expectedExit = true;
    incarnation.server.child.proc.kill('SIGKILL');
    await incarnation.server.child.exited;
    return incarnation;
  }

  /** Starts a new process in the slot; resolves once it listens (false if it did not). */
  async restart(slot: ReplicaSlot): Promise<boolean> {
    const previous = slot.current!;
    try {
      await this.launch(slot, 'listening');
      return true;
    } catch (error) {
      const incarnation = slot.current!;
      if (incarnation === previous) {
        this.options.onFailure(previous, `could not be started again: ${describe(error)}`);
      } else if (incarnation.alive) {
        // Started but never listened: stop it, and say so.
        incarnation.expectedExit = true;
        await incarnation.server.child.stop();
        this.options.onFailure(incarnation, `did not start: ${describe(error)}`);
      }
      return false;
    }
  }

  /** SIGSTOP: the process keeps its sockets and locks, and does nothing. */
  freeze(slot: ReplicaSlot): void {
    this.disrupt(slot);
    slot.frozen = true;
    slot.current!.server.child.proc.kill('SIGSTOP');
  }

  /** SIGCONT after `freeze`. */
  thaw(slot: ReplicaSlot): void {
    const incarnation = slot.current!;
    incarnation.server.child.proc.kill('SIGCONT');
    slot.frozen = false;
    slot.available = incarnation.alive;
  }

  /** Stops every replica (SIGCONT, SIGTERM, then SIGKILL after 5 s). */
  async stopAll(): Promise<void> {
    this.closing = true;
    for (const slot of this.slots) this.disrupt(slot);
    await Promise.all(
      this.incarnations.map((incarnation) => {
        incarnation.expectedExit = true;
        return incarnation.server.child.stop();
      }),
    );
  }

  private disrupt(slot: ReplicaSlot): void {
    slot.available = false;
    slot.epoch += 1;
  }

  private async launch(slot: ReplicaSlot, until: 'healthy' | 'listening'): Promise<void> {
    const { root, databaseUrl, sandboxUrl, accounts } = this.options;
    // After Ctrl-C a process started now could outlive the soak.
    if (stopping()) throw new Error('the soak is stopping');
    slot.generations += 1;
    const name = `soak-r${slot.index}-g${slot.generations}`;
    const url = new URL(databaseUrl);
    url.searchParams.set('application_name', name);
    const server = await startServerProcess({ root }, name, {
      databaseUrl: url.toString(),
      accounts,
      apiBaseUrl: sandboxUrl,
      env: REPLICA_ENV,
    });
    const incarnation = new Incarnation(slot.index, name, server);
    this.incarnations.push(incarnation);
    slot.current = incarnation;
    void server.child.exited.then(() => this.exited(slot, incarnation));
    if (until === 'healthy') await waitHealthy(server, START_TIMEOUT_MS);
    else await waitListening(server, START_TIMEOUT_MS);
    if (!incarnation.alive) throw new Error(`${name} exited while starting`);
    slot.available = true;
    slot.frozen = false;
  }

  private exited(slot: ReplicaSlot, incarnation: Incarnation): void {
    const { proc } = incarnation.server.child;
    incarnation.exitedAt = Date.now();
    incarnation.exitStatus = proc.signalCode ?? `code ${proc.exitCode}`;
    if (slot.current === incarnation) this.disrupt(slot);
    // `stopping()`: Ctrl-C, every process is being stopped.
    if (!incarnation.expectedExit && !this.closing && !stopping()) {
      this.options.onFailure(
        incarnation,
        `exited (${incarnation.exitStatus}) without being killed; its last lines:\n${incarnation.server.child.tail(15)}`,
      );
    }
  }
}

function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0].slice(0, 200);
}
