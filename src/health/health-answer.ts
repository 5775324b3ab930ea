import type { HealthCheckResult, HealthCheckStatus } from '@nestjs/terminus';

/** A component class of the readiness check: the keys of `HealthController`'s indicators. */
export type HealthComponent = 'database' | 'wechat_accounts';

/**
 * What `/health` and `/health/ready` tell a caller without an admin key: the
 * status and which component classes are down (or degraded), never an appId,
 * a hint, an error text or an address.
 */
export interface PublicHealthAnswer {
  status: HealthCheckStatus;
  /** The component classes that are down (status `error`). */
  down?: string[];
  /** The component classes that work with a problem (status `degraded`: a token held, its last refresh failed). */
  degraded?: string[];
}

/** The HTTP status of a readiness answer: 200 for `ok` and `degraded`, else 503 (as Terminus answers). */
export function healthHttpStatus(result: Pick<HealthCheckResult, 'status'>): 200 | 503 {
  return result.status === 'ok' || result.status === 'degraded' ? 200 : 503;
}

/** The answer without the detail: the component classes by status, nothing they hold. */
export function publicHealthAnswer(result: HealthCheckResult): PublicHealthAnswer {
  const withStatus = (status: string): string[] =>
    Object.entries(result.details)
      .filter(([, detail]) => detail.status === status)
      .map(([component]) => component)
      .sort();
  const down = withStatus('down');
  const degraded = withStatus('degraded');
  return {
    status: result.status,
    ...(down.length ? { down } : {}),
    ...(degraded.length ? { degraded } : {}),
  };
}
