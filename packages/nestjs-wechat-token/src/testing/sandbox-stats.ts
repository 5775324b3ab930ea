import type {
  SandboxAppStats,
  SandboxCallRecord,
  SandboxEndpoint,
  SandboxEndpointStats,
  SandboxStats,
  SandboxTicketCallRecord,
} from './wechat-sandbox.types.js';

/** The log keeps this many calls, so a sandbox left running (the demo) does not grow forever. */
const LOG_LIMIT = 10_000;

/**
 * Counts token-issuing calls, and apart from them `getticket` calls: received
 * when they arrive, successful when answered with a token (or ticket).
 */
export class SandboxStatsRecorder {
  private calls = 0;
  private successes = 0;
  /** A Map, not an object: appids come from callers, and `__proto__` must stay a plain key. */
  private readonly apps = new Map<string, SandboxAppStats>();
  private log: SandboxCallRecord[] = [];
  private ticketCalls = 0;
  private ticketSuccesses = 0;
  /** Per appid, then per type as sent (Maps for the same reason as `apps`). */
  private readonly ticketApps = new Map<string, Map<string, SandboxEndpointStats>>();
  private ticketLog: SandboxTicketCallRecord[] = [];

  /** Counts a call as soon as it arrives (before any delay), so in-flight calls are visible. */
  begin(at: number, endpoint: SandboxEndpoint, appId: string, forceRefresh: boolean): SandboxCallRecord {
    const record: SandboxCallRecord = {
      at,
      endpoint,
      appId,
      forceRefresh,
      errcode: null,
      httpStatus: null,
      faulted: false,
      dropped: false,
    };
    this.calls += 1;
    this.app(appId)[endpoint].calls += 1;
    this.log.push(record);
    if (this.log.length > LOG_LIMIT) this.log.shift();
    return record;
  }

  /** Records how a call was answered. */
  finish(record: SandboxCallRecord, httpStatus: number, errcode: number | null, faulted: boolean): void {
    record.httpStatus = httpStatus;
    record.errcode = errcode;
    record.faulted = faulted;
    if (httpStatus === 200 && errcode === 0) {
      this.successes += 1;
      this.app(record.appId)[record.endpoint].successes += 1;
    }
  }

  /** Counts a `getticket` call as soon as it arrives, like `begin`. */
  beginTicket(at: number, appId: string, type: string): SandboxTicketCallRecord {
    const record: SandboxTicketCallRecord = {
      at,
      appId,
      type,
      errcode: null,
      httpStatus: null,
      faulted: false,
      dropped: false,
    };
    this.ticketCalls += 1;
    this.ticketStats(appId, type).calls += 1;
    this.ticketLog.push(record);
    if (this.ticketLog.length > LOG_LIMIT) this.ticketLog.shift();
    return record;
  }

  /** Records how a `getticket` call was answered. */
  finishTicket(
    record: SandboxTicketCallRecord,
    httpStatus: number,
    errcode: number | null,
    faulted: boolean,
  ): void {
    record.httpStatus = httpStatus;
    record.errcode = errcode;
    record.faulted = faulted;
    if (httpStatus === 200 && errcode === 0) {
      this.ticketSuccesses += 1;
      this.ticketStats(record.appId, record.type).successes += 1;
    }
  }

  /** Records a call that was handled but whose connection was cut instead of answered: not a success. */
  drop(record: SandboxCallRecord | SandboxTicketCallRecord, errcode: number | null): void {
    record.errcode = errcode;
    record.faulted = true;
    record.dropped = true;
  }

  /** Calls received, optionally only for one appid and/or endpoint. */
  count(appId?: string, endpoint?: SandboxEndpoint): number {
    const apps =
      appId === undefined ? [...this.apps.values()] : [this.apps.get(appId)].filter((app) => !!app);
    return apps.reduce(
      (sum, app) => sum + (endpoint ? app[endpoint].calls : app.token.calls + app.stable_token.calls),
      0,
    );
  }

  /** `getticket` calls received, optionally only for one appid and/or type. */
  ticketCount(appId?: string, type?: string): number {
    const apps =
      appId === undefined
        ? [...this.ticketApps.values()]
        : [this.ticketApps.get(appId)].filter((app) => !!app);
    return apps.reduce(
      (sum, types) =>
        sum +
        (type === undefined
          ? [...types.values()].reduce((calls, stats) => calls + stats.calls, 0)
          : (types.get(type)?.calls ?? 0)),
      0,
    );
  }

  /** A deep copy of the counters and the logs. */
  snapshot(): SandboxStats {
    return structuredClone({
      calls: this.calls,
      successes: this.successes,
      apps: Object.fromEntries(this.apps),
      log: this.log,
      tickets: {
        calls: this.ticketCalls,
        successes: this.ticketSuccesses,
        apps: Object.fromEntries(
          [...this.ticketApps].map(([appId, types]) => [appId, Object.fromEntries(types)]),
        ),
        log: this.ticketLog,
      },
    });
  }

  /** Zeroes every counter and empties the logs. */
  clear(): void {
    this.calls = 0;
    this.successes = 0;
    this.apps.clear();
    this.log = [];
    this.ticketCalls = 0;
    this.ticketSuccesses = 0;
    this.ticketApps.clear();
    this.ticketLog = [];
  }

  private ticketStats(appId: string, type: string): SandboxEndpointStats {
    let types = this.ticketApps.get(appId);
    if (!types) {
      types = new Map();
      this.ticketApps.set(appId, types);
    }
    let stats = types.get(type);
    if (!stats) {
      stats = { calls: 0, successes: 0 };
      types.set(type, stats);
    }
    return stats;
  }

  private app(appId: string): SandboxAppStats {
    let app = this.apps.get(appId);
    if (!app) {
      app = { token: { calls: 0, successes: 0 }, stable_token: { calls: 0, successes: 0 } };
      this.apps.set(appId, app);
    }
    return app;
  }
}
