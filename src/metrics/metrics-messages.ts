/** Every message text of `/metrics`. None may carry a key or a token: what a client sent is never echoed. */
export const METRICS_MESSAGES = {
  /** `ip` as the server sees the client (`TRUST_PROXY` honoured), so the operator knows what to allow. */
  refused: (ip: string) =>
    `GET /metrics is open to METRICS_ALLOWLIST only (this request came from ${ip}): send an admin key ` +
    '("Authorization: Bearer <admin key>", a key of ADMIN_TOKEN / ADMIN_TOKENS), or add the address ' +
    '(or its network) to METRICS_ALLOWLIST.',
} as const;
