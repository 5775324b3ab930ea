/**
 * A field name that announces a credential: `secret`, `token`, `key`,
 * `password` as a word of it (`appSecret`, `staleToken`, `api_key`). Names
 * ending in `Id`/`Ids`/`Name`/`Names` refer to one (`tokenId`, `keyName`)
 * and are not credentials.
 */
const CREDENTIAL_WORD = /(secret|token|key|password|passwd)/i;
const REFERENCE_SUFFIX = /(Id|Ids|Name|Names|_id|_ids|_name|_names)$/;

/** An audit entry's `details` would carry what looks like a credential: refused, so the write is not made. */
export class AuditDetailsError extends Error {
  readonly code = 'AUDIT_DETAILS_SECRET';
  constructor(readonly path: string) {
    super(
      `Audit details field "${path}" looks like a credential and holds text: record that it was ` +
        `given or changed as a boolean (e.g. "${path}Changed": true), never the value.`,
    );
    this.name = 'AuditDetailsError';
  }
}

/**
 * Throws `AuditDetailsError` when `details` holds text (a string, at any
 * depth) under a field whose name announces a credential. Booleans and
 * numbers cannot carry one, so `{ staleToken: true }` passes and
 * `{ staleToken: "…" }` does not. A belt to the callers' braces: they never
 * pass a secret; this catches the slip a refactoring makes.
 */
export function assertNoCredentials(details: Record<string, unknown>, path = ''): void {
  for (const [name, value] of Object.entries(details)) {
    const at = path === '' ? name : `${path}.${name}`;
    const credentialNamed = CREDENTIAL_WORD.test(name) && !REFERENCE_SUFFIX.test(name);
    if (credentialNamed && holdsText(value)) throw new AuditDetailsError(at);
    if (typeof value === 'object' && value !== null) {
      assertNoCredentials(value as Record<string, unknown>, at);
    }
  }
}

function holdsText(value: unknown): boolean {
  if (typeof value === 'string') return true;
  if (typeof value !== 'object' || value === null) return false;
  return Object.values(value).some(holdsText);
}
