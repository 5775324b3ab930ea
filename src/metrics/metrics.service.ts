import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import {
  WECHAT_TOKEN_OPTIONS,
  WechatTokenService,
  type HeldCredential,
  type ResolvedWechatTokenOptions,
  type WechatTokenEvent,
} from 'nestjs-wechat-token';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { RuntimeSync } from '../runtime-sync/runtime-sync.service.js';
import { FetchLogProbe } from './fetch-log-probe.js';
import { processMetrics } from './process-metrics.js';
import { ServedCounts } from './served-counts.js';
import { PassthroughCounts } from '../passthrough/passthrough-counts.js';

/** Every metric of this server starts with this (the process's own ones keep prom-client's names). */
export const METRIC_PREFIX = 'wechat_token_';

/** Seconds: a call to WeChat has a hard timeout (5 s by default), the lock wait adds up to that + 2 s. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20];
/** Seconds: the lock is free at once unless another replica is fetching. */
const LOCK_WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10];

const CREDENTIAL_LABELS = ['app_id', 'kind'] as const;
type CredentialLabel = (typeof CREDENTIAL_LABELS)[number];

/**
 * The server's Prometheus metrics, in a registry of this app's own (several
 * apps may run in one process, e.g. under Jest, so never prom-client's
 * global one). What the module does (calls to WeChat, refreshes, stale
 * reports) arrives by `WechatTokenService.onEvent`; what it holds (expiries,
 * listeners) and the day's calls (the fetch log: `FetchLogProbe`) are read
 * at scrape time; the answers of the WeChat-compatible routes are counted by
 * `ServedCounts` on the request path. Labels are configuration and closed
 * sets only: never a token, a key or a client address.
 */
@Injectable()
export class MetricsService implements OnModuleDestroy {
  private readonly registry = new Registry();
  /** This app's metrics with the process's (`processMetrics`), made at the first scrape. */
  private exposed?: Registry;
  private readonly unsubscribe: () => void;

  private readonly credentialExpiresIn: Gauge<CredentialLabel> = new Gauge({
    name: `${METRIC_PREFIX}credential_expires_in_seconds`,
    help: 'Seconds until the expires_at WeChat gave the token or ticket this replica holds (0: none held, or expired).',
    labelNames: CREDENTIAL_LABELS,
    registers: [this.registry],
    collect: (): void | Promise<void> => this.collectHeld(this.credentialExpiresIn, (held) => held.expiresIn),
  });
  private readonly credentialServedExpiresIn: Gauge<CredentialLabel> = new Gauge({
    name: `${METRIC_PREFIX}credential_served_expires_in_seconds`,
    help: 'The expires_in a client is handed with the token or ticket now: what WeChat is sure to honour (0: none handed out).',
    labelNames: CREDENTIAL_LABELS,
    registers: [this.registry],
    collect: (): void | Promise<void> =>
      this.collectHeld(this.credentialServedExpiresIn, (held) => held.servedExpiresIn),
  });
  private readonly credentialUsable: Gauge<CredentialLabel> = new Gauge({
    name: `${METRIC_PREFIX}credential_usable`,
    help: 'Whether this replica holds a token or ticket it may use and hand out now (1) or not (0).',
    labelNames: CREDENTIAL_LABELS,
    registers: [this.registry],
    collect: (): void | Promise<void> =>
      this.collectHeld(this.credentialUsable, (held) => (held.usable ? 1 : 0)),
  });

  private readonly upstreamCalls: Counter<CredentialLabel | 'endpoint' | 'outcome' | 'errcode'> = new Counter(
    {
      name: `${METRIC_PREFIX}upstream_calls_total`,
      help:
        "Calls this replica made to WeChat, by endpoint (token, stable_token, getticket), outcome (the fetch log's: " +
        'ok, unchanged, errcode, timeout, network, http, body, not_sent) and errcode (0: a token or ticket; -1: no WeChat answer).',
      labelNames: [...CREDENTIAL_LABELS, 'endpoint', 'outcome', 'errcode'],
      registers: [this.registry],
    },
  );
  private readonly upstreamCallDuration: Histogram<'endpoint'> = new Histogram({
    name: `${METRIC_PREFIX}upstream_call_duration_seconds`,
    help: 'How long the calls this replica made to WeChat took, from logging the call to its outcome.',
    labelNames: ['endpoint'],
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  private readonly callsToday: Gauge<CredentialLabel> = new Gauge({
    name: `${METRIC_PREFIX}upstream_calls_today`,
    help:
      'Calls to WeChat since midnight Asia/Shanghai, all replicas (the fetch log), per account and kind: ' +
      'what counts against the daily quota. Absent while the database does not answer.',
    labelNames: CREDENTIAL_LABELS,
    registers: [this.registry],
    collect: (): void | Promise<void> => this.collectCallsToday(),
  });
  private readonly dailyQuota: Gauge<CredentialLabel> = new Gauge({
    name: `${METRIC_PREFIX}daily_quota`,
    help: 'Calls to WeChat allowed per account and kind per day before fetching stops (WECHAT_DAILY_QUOTA).',
    labelNames: CREDENTIAL_LABELS,
    registers: [this.registry],
    collect: (): void | Promise<void> => this.collectDailyQuota(),
  });

  private readonly refreshDuration: Histogram<'kind' | 'result'> = new Histogram({
    name: `${METRIC_PREFIX}refresh_duration_seconds`,
    help:
      "This replica's passes through a credential's cluster lock, lock wait included, by result (fetched, " +
      'unchanged, not_needed, refused, failed, lock_busy, store_error).',
    labelNames: ['kind', 'result'],
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  private readonly lockWait: Histogram<'kind'> = new Histogram({
    name: `${METRIC_PREFIX}lock_wait_seconds`,
    help: 'How long a refresh waited for the cluster lock of the credential (passes that got it).',
    labelNames: ['kind'],
    buckets: LOCK_WAIT_BUCKETS,
    registers: [this.registry],
  });

  private readonly served: Counter<'route' | 'outcome'> = new Counter({
    name: `${METRIC_PREFIX}served_total`,
    help:
      'Answers of the WeChat-compatible routes (cgi_token, cgi_stable_token, cgi_getticket) to clients inside ' +
      'TOKEN_CLIENT_ALLOWLIST, by outcome: ok (a token or ticket handed out) or the errcode answered.',
    labelNames: ['route', 'outcome'],
    registers: [this.registry],
    collect: (): void | Promise<void> => this.collectServed(),
  });
  private readonly staleReports: Counter<'app_id' | 'verdict'> = new Counter({
    name: `${METRIC_PREFIX}stale_reports_total`,
    help:
      'Tokens reported stale (admin refresh without force, stable_token force_refresh, withAccessToken) by what ' +
      'the check at WeChat found: still_works, already_replaced, dead (replaced), unknown (the check failed).',
    labelNames: ['app_id', 'verdict'],
    registers: [this.registry],
  });

  private readonly passthroughRequests: Counter<'outcome'> = new Counter({
    name: `${METRIC_PREFIX}passthrough_requests_total`,
    help:
      'WeChat API calls passed through to WeChat (PASSTHROUGH), by outcome: forwarded (WeChat answered, whatever ' +
      'its errcode), refused (answered by the center: not allowlisted, a token it did not issue, a wrong secret…), ' +
      'too_large (over PASSTHROUGH_MAX_BODY_BYTES), timeout, upstream_error.',
    labelNames: ['outcome'],
    registers: [this.registry],
    collect: (): void | Promise<void> => this.collectPassthrough(),
  });
  private readonly passthroughHeals: Counter<'app_id' | 'kind'> = new Counter({
    name: `${METRIC_PREFIX}passthrough_heals_total`,
    help:
      'Stale tokens healed on passed-through calls: replaced (the client sent a token the center had replaced: ' +
      'the current one went to WeChat instead), replayed (WeChat rejected it: replaced for the cluster and the ' +
      'call sent once more), not_replayed (WeChat rejected it and the call was not sent again).',
    labelNames: ['app_id', 'kind'],
    registers: [this.registry],
    collect: (): void | Promise<void> => this.collectHeals(),
  });

  private readonly databaseUp: Gauge = new Gauge({
    name: `${METRIC_PREFIX}database_up`,
    help: "Whether Postgres answered this scrape's fetch-log query within 1.5 s (1) or not (0).",
    registers: [this.registry],
    collect: (): void | Promise<void> => this.collectDatabaseUp(),
  });
  private readonly listenerUp: Gauge<'listener'> = new Gauge({
    name: `${METRIC_PREFIX}listener_up`,
    help:
      "Whether this replica's LISTEN connection is up (1) or not (0): token_sync (other replicas' tokens and " +
      'tickets), runtime_sync (accounts and clients changed through the admin API).',
    labelNames: ['listener'],
    registers: [this.registry],
    collect: (): void | Promise<void> => this.collectListeners(),
  });

  constructor(
    private readonly tokens: WechatTokenService,
    @Inject(WECHAT_TOKEN_OPTIONS) private readonly options: Pick<ResolvedWechatTokenOptions, 'dailyQuota'>,
    private readonly runtimeSync: RuntimeSync,
    private readonly servedCounts: ServedCounts,
    private readonly fetchLog: FetchLogProbe,
    private readonly passthroughCounts: PassthroughCounts,
  ) {
    this.unsubscribe = tokens.onEvent((event) => this.record(event));
  }

  /** The `Content-Type` of `render()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the Prometheus text format (version 0.0.4). */
  render(): Promise<string> {
    this.exposed ??= Registry.merge([this.registry, processMetrics()]);
    return this.exposed.metrics();
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  private record(event: WechatTokenEvent): void {
    switch (event.type) {
      case 'upstream_call':
        this.upstreamCalls.inc({
          app_id: event.appId,
          kind: event.kind,
          endpoint: event.endpoint,
          outcome: event.outcome,
          errcode: String(event.errcode ?? 0),
        });
        this.upstreamCallDuration.observe({ endpoint: event.endpoint }, event.durationMs / 1000);
        return;
      case 'refresh':
        this.refreshDuration.observe({ kind: event.kind, result: event.result }, event.durationMs / 1000);
        if (event.lockWaitMs !== null) this.lockWait.observe({ kind: event.kind }, event.lockWaitMs / 1000);
        return;
      case 'stale_report':
        this.staleReports.inc({ app_id: event.appId, verdict: event.verdict });
        return;
    }
  }

  /** A gauge of what this replica holds, from memory; an account removed since the last scrape drops out. */
  private collectHeld(gauge: Gauge<CredentialLabel>, value: (held: HeldCredential) => number): void {
    gauge.reset();
    for (const held of this.tokens.heldCredentials()) {
      gauge.set({ app_id: held.appId, kind: held.kind }, value(held));
    }
  }

  private async collectCallsToday(): Promise<void> {
    const held = this.tokens.heldCredentials();
    const reading = await this.fetchLog.read(held);
    this.callsToday.reset();
    // Unknown is absent, not 0: a quota alert must not read "no calls" during an outage.
    if (!reading.callsToday) return;
    const calls = new Map(reading.callsToday.map((row) => [`${row.appId} ${row.kind}`, row.calls]));
    for (const { appId, kind } of held) {
      this.callsToday.set({ app_id: appId, kind }, calls.get(`${appId} ${kind}`) ?? 0);
    }
  }

  private collectDailyQuota(): void {
    this.dailyQuota.reset();
    for (const { appId, kind } of this.tokens.heldCredentials()) {
      this.dailyQuota.set({ app_id: appId, kind }, this.options.dailyQuota);
    }
  }

  private collectServed(): void {
    this.served.reset();
    this.servedCounts.forEach((route, errcode, count) => {
      this.served.inc({ route, outcome: errcode === 0 ? 'ok' : String(errcode) }, count);
    });
  }

  private collectPassthrough(): void {
    this.passthroughRequests.reset();
    this.passthroughCounts.forEachOutcome((outcome, count) =>
      this.passthroughRequests.inc({ outcome }, count),
    );
  }

  private collectHeals(): void {
    this.passthroughHeals.reset();
    this.passthroughCounts.forEachHeal((appId, kind, count) =>
      this.passthroughHeals.inc({ app_id: appId, kind }, count),
    );
  }

  private async collectDatabaseUp(): Promise<void> {
    const reading = await this.fetchLog.read(this.tokens.heldCredentials());
    this.databaseUp.set(reading.databaseUp ? 1 : 0);
  }

  private collectListeners(): void {
    this.listenerUp.set({ listener: 'token_sync' }, this.tokens.listening ? 1 : 0);
    this.listenerUp.set({ listener: 'runtime_sync' }, this.runtimeSync.listening ? 1 : 0);
  }
}
