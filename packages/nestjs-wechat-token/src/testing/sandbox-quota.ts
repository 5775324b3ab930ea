/** One appid's usage on the current Beijing day. */
interface AppUsage {
  day: number;
  normalCalls: number;
  forceRefreshes: number;
  /** Last successful force refresh; survives midnight, as the interval rule does not care about days. */
  lastForceAt: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** WeChat's quotas reset at midnight Asia/Shanghai (UTC+8, no daylight saving). */
const SHANGHAI_OFFSET_MS = 8 * 60 * 60 * 1000;

/** Day number in Asia/Shanghai for an epoch-ms time. */
export function shanghaiDay(now: number): number {
  return Math.floor((now + SHANGHAI_OFFSET_MS) / DAY_MS);
}

/** Tickets issued for one appid and type on the current Beijing day. */
interface TicketUsage {
  day: number;
  issued: number;
}

/**
 * Per-appid daily counters: normal-mode fetches (for 45009), stable_token
 * force refreshes (for 45011), and per appid and type, tickets (for 45009).
 */
export class SandboxQuota {
  private readonly usage = new Map<string, AppUsage>();
  /** Keyed `type appId`. */
  private readonly tickets = new Map<string, TicketUsage>();

  /** Whether one more normal-mode fetch fits in today's quota. */
  allowsNormalCall(appId: string, now: number, dailyQuota: number): boolean {
    return this.today(appId, now).normalCalls < dailyQuota;
  }

  /** Counts a normal-mode fetch that was answered with a token. */
  recordNormalCall(appId: string, now: number): void {
    this.today(appId, now).normalCalls += 1;
  }

  /** Whether a force refresh is allowed now: far enough from the last one and under the daily limit. */
  allowsForceRefresh(appId: string, now: number, minIntervalMs: number, dailyLimit: number): boolean {
    const usage = this.today(appId, now);
    return usage.forceRefreshes < dailyLimit && now - usage.lastForceAt >= minIntervalMs;
  }

  /** Counts a force refresh that was answered with a token. */
  recordForceRefresh(appId: string, now: number): void {
    const usage = this.today(appId, now);
    usage.forceRefreshes += 1;
    usage.lastForceAt = now;
  }

  /** Whether one more ticket of this type fits in the appid's quota today. */
  allowsTicket(appId: string, type: string, now: number, dailyQuota: number): boolean {
    return this.ticketsToday(appId, type, now).issued < dailyQuota;
  }

  /** Counts a ticket issued. */
  recordTicket(appId: string, type: string, now: number): void {
    this.ticketsToday(appId, type, now).issued += 1;
  }

  /**
   * What WeChat's `clear_quota` does: the appid's counts of the day start
   * again (token fetches and tickets of every type). The stable_token force
   * limits are not touched: WeChat does not document that it resets them.
   */
  clearApp(appId: string): void {
    const usage = this.usage.get(appId);
    if (usage) usage.normalCalls = 0;
    for (const [key, tickets] of this.tickets) if (key.endsWith(` ${appId}`)) tickets.issued = 0;
  }

  /** Forgets all usage. */
  clear(): void {
    this.usage.clear();
    this.tickets.clear();
  }

  private ticketsToday(appId: string, type: string, now: number): TicketUsage {
    const day = shanghaiDay(now);
    const key = `${type} ${appId}`;
    let usage = this.tickets.get(key);
    if (!usage || usage.day !== day) {
      usage = { day, issued: 0 };
      this.tickets.set(key, usage);
    }
    return usage;
  }

  private today(appId: string, now: number): AppUsage {
    const day = shanghaiDay(now);
    let usage = this.usage.get(appId);
    if (!usage) {
      usage = { day, normalCalls: 0, forceRefreshes: 0, lastForceAt: -Infinity };
      this.usage.set(appId, usage);
    } else if (usage.day !== day) {
      usage.day = day;
      usage.normalCalls = 0;
      usage.forceRefreshes = 0;
    }
    return usage;
  }
}
