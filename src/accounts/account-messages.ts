/**
 * The messages of the runtime accounts: start-up errors name the variable
 * to fix, API errors say what to send. None carries a secret.
 */
export const ACCOUNT_MESSAGES = {
  needsSecretsKey: () =>
    'Accounts can be added or given a new secret through the API only when the server has SECRETS_KEY ' +
    '(32 bytes, base64: `openssl rand -base64 32`), which seals their AppSecrets in the database.',
  exists: (appId: string) =>
    `Account ${appId} exists: change it with PATCH /admin/accounts/${appId} (a disabled one with {"enabled": true}).`,
  envAccount: (appId: string) =>
    `Account ${appId} comes from WECHAT_ACCOUNTS: change it there (and restart), or remove it from WECHAT_ACCOUNTS ` +
    'on every replica, restart them, and add it with POST /admin/accounts (with its secret) to manage it here.',
  notApplied: (reason: string) => `not applied (${reason}); the next read tries again.`,
  unknown: (appId: string) => `No account ${appId}: add it with POST /admin/accounts.`,
  envTakesOver: (appId: string) =>
    `${appId} is in WECHAT_ACCOUNTS and was added through the API: WECHAT_ACCOUNTS wins, the API's secret is dropped.`,
  secretsKeyMissing: (count: number) =>
    `SECRETS_KEY: missing; ${count} account(s) were added through the admin API and their AppSecrets are sealed ` +
    'in the database: set the SECRETS_KEY they were sealed with.',
  secretsKeyMissingForTokens: () =>
    'SECRETS_KEY: missing; the stored tokens or tickets are sealed: set the SECRETS_KEY they were sealed with.',
  secretsKeyWrong: (keyIds: string[]) =>
    `SECRETS_KEY: wrong key; values in the database are sealed under key id ${keyIds.join(', ')}, which is neither ` +
    'SECRETS_KEY nor SECRETS_KEY_PREVIOUS (during a rotation, set the old key as SECRETS_KEY_PREVIOUS).',
};
