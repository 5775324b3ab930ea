import type { CredentialKind, StoredCredential } from './credential.js';
import type { AttemptSummary } from './token-store.js';

// Test data the library's specs share. Not built into dist/ (tsconfig.build.json).

/** The account of the specs' rows. */
export const SPEC_APP_ID = 'wx0000000000000001';

/** A stored 7200 s row of `kind`, fetched at `fetchedAt`, never reported dead. */
export function storedCredential(
  id: string,
  fetchedAt: number,
  kind: CredentialKind = 'access_token',
): StoredCredential {
  return {
    id,
    appId: SPEC_APP_ID,
    kind,
    value: `${kind}-number-${id}-${'x'.repeat(20)}`,
    fetchedAt: new Date(fetchedAt),
    expiresAt: new Date(fetchedAt + 7200_000),
    source: 'schedule',
    mode: 'token',
    instanceId: null,
    reportedDeadAt: null,
  };
}

/** A fetch log summary with nothing in it but `partial`. */
export function attemptSummary(partial: Partial<AttemptSummary> = {}): AttemptSummary {
  return {
    attemptsToday: 0,
    stableForcesToday: 0,
    lastStableForceAt: null,
    lastOverrideAt: null,
    failuresSinceSuccess: [],
    failureCount: 0,
    ...partial,
  };
}
