import type { Logger } from '@nestjs/common';
import { ClusterClock, type Clock } from './clock.js';
import { keyString, type CredentialKey, type CredentialKind, type StoredCredential } from './credential.js';
import type { CredentialState, ViewFreshness } from './credential-state.js';
import type { CredentialView, TokenStore, TokenWatch } from './token-store.js';
import { SecretBoxError } from './secret-box.js';
import { describeError } from './wechat-token.errors.js';

/** What the sync needs of the engine it feeds. */
export interface SyncTarget {
  /** Every credential this replica keeps. */
  states(): Iterable<CredentialState>;
  /** The state of a key, if this replica keeps it. */
  find(key: CredentialKey): CredentialState | undefined;
  /** Takes a newer row read from the table (logging and announcing the change of hands). */
  adopt(state: CredentialState, row: StoredCredential): void;
  /** The held row's life was recomputed (`died`: it just became unservable). */
  lifeUpdated(state: CredentialState, died: boolean): void;
}

/**
 * Keeps this replica's view of every credential current: LISTEN/NOTIFY for
 * what other replicas commit (only a hint: the row is re-read), a periodic
 * re-read of everything (what a notification may miss), and the clock
 * aligned on the database's. It also answers how far the view can be
 * trusted (`knownUntil`), which bounds what may be promised once a refresh
 * is due.
 */
export class CredentialSync implements ViewFreshness {
  private watch?: TokenWatch;
  /** Start of the last full re-read that succeeded, and since when the listener is connected (cluster clock). */
  private lastResyncAtMs = 0;
  private listeningSinceMs = Infinity;
  private resyncTimer?: NodeJS.Timeout;

  constructor(
    private readonly store: TokenStore,
    private readonly clock: Clock,
    private readonly target: SyncTarget,
    private readonly settleMs: number,
    private readonly logger: Logger,
  ) {}

  /** Reads everything once, then listens (when `listen`) and re-reads every `resyncIntervalMs`. */
  async start(listen: boolean, resyncIntervalMs: number): Promise<void> {
    try {
      await this.resync();
    } catch (error) {
      this.logger.error(
        `Could not read stored tokens at start: ${describeError(error)}; retrying in the background.`,
      );
    }
    if (listen) {
      this.watch = await this.store.watch({
        onToken: (key) => this.changed(key),
        onFetchLog: (key) => this.changed(key),
        onConnected: () => {
          this.listeningSinceMs = this.clock.now();
          void this.resync().catch(() => undefined);
        },
        onError: (error) =>
          this.logger.warn(`Token listener lost its connection (${describeError(error)}); reconnecting.`),
      });
      if (!this.watch.connected) this.listeningSinceMs = Infinity;
    }
    this.resyncTimer = setInterval(() => {
      this.resync().catch((error) => this.logger.warn(`Re-reading tokens failed: ${describeError(error)}`));
    }, resyncIntervalMs);
    this.resyncTimer.unref();
  }

  /** Whether the LISTEN connection is up now (false when not listening at all). */
  get listening(): boolean {
    return this.watch?.connected ?? false;
  }

  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    await this.watch?.close();
  }

  /**
   * Re-reads every credential's newest row and the calls around it (what
   * NOTIFY may have missed) and re-aligns the clock.
   */
  async resync(): Promise<void> {
    if (this.clock instanceof ClusterClock) {
      const before = Date.now();
      const databaseMs = await this.store.databaseTime();
      this.clock.sync(databaseMs, (before + Date.now()) / 2);
    }
    const startedAt = this.clock.now();
    const appIdsByKind = new Map<CredentialKind, string[]>();
    for (const state of this.target.states()) {
      const appIds = appIdsByKind.get(state.spec.kind) ?? [];
      appIds.push(state.appId);
      appIdsByKind.set(state.spec.kind, appIds);
    }
    for (const [kind, appIds] of appIdsByKind) {
      for (const view of await this.store.views(kind, appIds, this.settleMs)) {
        const state = this.target.find({ appId: view.appId, kind });
        try {
          if (state) this.apply(state, view, startedAt);
        } catch (error) {
          this.logger.error(`Reading ${keyString(view.appId, kind)} failed: ${describeError(error)}`);
        }
      }
    }
    this.lastResyncAtMs = Math.max(this.lastResyncAtMs, startedAt);
  }

  /**
   * Re-reads one credential's newest row and the calls around it. Reads
   * asked for while one is under way are folded into one more read after it.
   */
  async syncOne(state: CredentialState): Promise<void> {
    if (state.viewRead) {
      state.viewStale = true;
      return state.viewRead;
    }
    const read = (async () => {
      do {
        state.viewStale = false;
        const pending = state.viewPending;
        const startedAt = this.clock.now();
        const [view] = await this.store.views(state.spec.kind, [state.appId], this.settleMs);
        if (view) this.apply(state, view, startedAt);
        if (pending && !state.viewStale) state.viewPending = false;
      } while (state.viewStale);
    })();
    state.viewRead = read;
    try {
      await read;
    } finally {
      state.viewRead = undefined;
    }
  }

  /**
   * How far this replica's view of a credential's fetch log is current: up to
   * what the listener has confirmed delivered (a moment ago while all is well)
   * once a re-read has followed its (re)connection and no announced change
   * waits to be read; otherwise the start of the last read. A frozen process,
   * a stalled event loop or a silent connection stops it moving on.
   */
  knownUntil(state: CredentialState, now: number): number {
    const watch = this.watch;
    if (!watch || state.viewPending || this.lastResyncAtMs < this.listeningSinceMs) return state.viewAsOfMs;
    const confirmed = watch.confirmedAt + (now - Date.now()); // local time on the cluster clock
    return Math.max(state.viewAsOfMs, Math.min(now, confirmed));
  }

  /** An announced change: until it is read, the view is as old as the last read. */
  private changed(key: CredentialKey): void {
    const state = this.target.find(key);
    if (!state) return;
    state.viewPending = true;
    this.syncOne(state).catch((error) =>
      this.logger.warn(
        `Re-reading the fetch log of ${keyString(key.appId, key.kind)} failed: ${describeError(error)}`,
      ),
    );
  }

  /** Takes what the table says of the credential: a newer row, a row marked dead, calls of unknown outcome, a quota reset. */
  private apply(state: CredentialState, view: CredentialView, readAt: number): void {
    // An operator's quota resume, on any replica: lifts this replica's quota block.
    if (view.quotaResetAt) state.quotaReset(view.quotaResetAt.getTime());
    // Not read: the view stays as old as the last read that was (never "empty", which would move it on).
    if (view.unreadable !== undefined) throw new SecretBoxError(view.unreadable);
    if (!view.token) return state.readEmpty(readAt);
    const read = state.reread(view.token, view.fetches, readAt);
    if (read === 'adopt') this.target.adopt(state, view.token);
    else if (read !== 'older') this.target.lifeUpdated(state, read === 'died');
  }
}
