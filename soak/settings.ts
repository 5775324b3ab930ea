import { CALL_CLOCK_SLACK_MS } from './call-matching.js';

/**
 * The soak's fixed figures. Tokens live 40 s so a run of minutes sees many
 * refreshes; the timeouts are short so every chaos action plays out in seconds.
 */
export const SOAK = {
  replicas: 3,
  /** Sandbox token lifetime (`expires_in` of a new token). */
  lifetimeSeconds: 40,
  /** How long the sandbox keeps the previous `/cgi-bin/token` token alive; the replicas are told the same. */
  overlapSeconds: 15,
  /** WECHAT_HTTP_TIMEOUT_MS of the replicas. */
  httpTimeoutMs: 1000,
  /** WECHAT_LATE_ANSWER_MS: how long after the HTTP timeout WeChat may still act on a request. */
  lateAnswerMs: 1000,
  /** TOKEN_RESYNC_SECONDS of the replicas. */
  resyncSeconds: 5,
  /** TOKEN_REFRESH_AHEAD_SECONDS, left at the server's default (the quarter of the lifetime wins). */
  refreshAheadSeconds: 600,
  /** The server's largest refresh jitter: min(45 s, a twentieth of the lifetime) (refresh-policy.ts). */
  maxJitterSeconds: Math.min(45, 40 / 20),
  /** One ask per account and replica this often (about 3 a second each). */
  askIntervalMs: 300,
  /** A client gives up on an ask after this long. */
  askTimeoutMs: 2000,
  /** Limit of each replica's resident memory. */
  rssLimitMB: 400,
  /** Share of the asks (to replicas up at the time) that must come back with a token. */
  minAnsweredShare: 0.9,
  /** How far a call's arrival may be from its fetch-log row's window (see CALL_CLOCK_SLACK_MS). */
  clockSlackMs: CALL_CLOCK_SLACK_MS,
  /** A lock still held this long after its holder died counts as held by a dead process. */
  deadLockGraceMs: 2000,
  /**
   * From this run length on, the table wants every kind of fault to have happened. Each
   * round of the plan plays every action once, but a fault on an account waits for its next
   * fetch (one a refresh period), so a round can take minutes. Shorter runs are held to the
   * kinds whose action acted before the end (not cut by it, not missed by the harness),
   * unless their regression entry says `everyFault` (the CI one: its seed reaches every
   * kind well before its end).
   */
  everyFaultFromSeconds: 600,
  /** Pause between two chaos actions, drawn uniformly. */
  chaosGapMs: [2000, 9000],
  /** Postgres stays down this long on a restart. */
  postgresDownMs: [4000, 6000],
  /** A killed replica is started again after this long. */
  restartDelayMs: [300, 3000],
} as const;

/** How long a replica waits for another's lock: its HTTP timeout + 2 s (credential-refresher.ts). */
export const LOCK_WAIT_MS = SOAK.httpTimeoutMs + 2000;

/**
 * The shortest time between two planned fetches of one account: a token is
 * refreshed `lead` before it expires, lead = min(TOKEN_REFRESH_AHEAD_SECONDS,
 * a quarter of the lifetime), and jitter may move that up to `maxJitterSeconds`
 * earlier (token mode; stable mode moves it later). Counted from the start of
 * the fetch that brought the token, as the server counts its expiry.
 */
export function refreshPeriodMs(): number {
  const lead = Math.min(SOAK.refreshAheadSeconds, SOAK.lifetimeSeconds / 4);
  return (SOAK.lifetimeSeconds - lead - SOAK.maxJitterSeconds) * 1000;
}
