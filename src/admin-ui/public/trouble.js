// How much trouble an account is in, and why, so the cards of accounts that
// need someone come first and say so in words (never by colour alone). No DOM
// here (trouble.spec.ts).

import { percentOf } from './format.js';
import { blockedText, kindLabel } from './messages.js';

/** @typedef {import('./types.js').AccountStatus} AccountStatus */
/** @typedef {import('./types.js').CredentialStatus} CredentialStatus */
/** @typedef {'error' | 'warn' | 'ok'} TroubleLevel */
/** @typedef {{ level: TroubleLevel, reasons: string[] }} Trouble */

/** Above this share of the daily quota an account is worth a look: WeChat refuses the rest of the day (45009). */
export const QUOTA_WARN_SHARE = 0.8;

/** @type {Record<TroubleLevel, number>} */
const RANK = { error: 0, warn: 1, ok: 2 };

/**
 * Whether the credential's last fetch failed: its last error is newer than
 * the value it holds. An older error is history (the next fetch worked).
 * @param {CredentialStatus} status
 * @returns {boolean}
 */
export function lastFetchFailed(status) {
  if (!status.lastError) return false;
  if (!status.fetchedAt) return true;
  return Date.parse(status.lastError.at) > Date.parse(status.fetchedAt);
}

/**
 * The share of the daily quota used today, or null while the count is unknown (database down).
 * @param {CredentialStatus} status
 * @returns {number | null}
 */
export function quotaShare(status) {
  if (status.upstreamCallsToday === null || !(status.dailyQuota > 0)) return null;
  return status.upstreamCallsToday / status.dailyQuota;
}

/**
 * "84 % of the daily quota used" above `QUOTA_WARN_SHARE`; null below it or while the count is unknown.
 * @param {CredentialStatus} status
 * @returns {string | null}
 */
function quotaWarning(status) {
  const share = quotaShare(status);
  if (share === null || share <= QUOTA_WARN_SHARE) return null;
  return `${percentOf(status.upstreamCallsToday ?? 0, status.dailyQuota)} % of the daily quota used`;
}

/**
 * An account's trouble level and its reasons, worst first:
 * `error` when clients cannot be served well now (no usable token, fetches
 * held back, a token that may be dead); `warn` when it may come to that (the
 * last fetch failed, a ticket is not usable or failing, more than 80 % of the
 * quota used, any other risk); `ok` otherwise.
 * @param {AccountStatus} account
 * @returns {Trouble}
 */
export function troubleOf(account) {
  /** @type {string[]} */
  const errors = [];
  /** @type {string[]} */
  const warnings = [];
  if (!account.usable) errors.push(account.token ? 'the token is not usable' : 'no token');
  if (account.blockedReason) errors.push(`fetches held back: ${blockedText(account.blockedReason)}`);
  if (account.risk === 'unsettled') errors.push('the token may be dead (unsettled)');
  if (account.risk === 'reported_dead') errors.push('WeChat rejected the token (reported_dead)');
  if (account.risk === 'unknown_fetch') {
    warnings.push('a call of unknown outcome may have replaced the token (unknown_fetch)');
  }
  if (lastFetchFailed(account) && account.lastError) {
    warnings.push(`the last fetch failed (errcode ${account.lastError.errcode})`);
  }
  const quota = quotaWarning(account);
  if (quota) warnings.push(quota);
  for (const ticket of account.tickets ?? []) {
    const name = kindLabel(ticket.type);
    if (!ticket.usable) warnings.push(`${name} not usable`);
    if (lastFetchFailed(ticket) && ticket.lastError) {
      warnings.push(`${name}: the last fetch failed (errcode ${ticket.lastError.errcode})`);
    }
    if (ticket.blockedReason) warnings.push(`${name}: fetches held back (${ticket.blockedReason})`);
    if (ticket.risk) warnings.push(`${name}: at risk (${ticket.risk})`);
    const ticketQuota = quotaWarning(ticket);
    if (ticketQuota) warnings.push(`${name}: ${ticketQuota}`);
  }
  const level = errors.length ? 'error' : warnings.length ? 'warn' : 'ok';
  return { level, reasons: [...errors, ...warnings] };
}

/**
 * The accounts with their trouble, in the overview's order: errors, then
 * warnings, then the rest, each group by appId (a stable order, so cards do
 * not jump between polls unless their trouble changes).
 * @param {AccountStatus[]} accounts
 * @returns {{ account: AccountStatus, trouble: Trouble }[]}
 */
export function orderByTrouble(accounts) {
  return accounts
    .map((account) => ({ account, trouble: troubleOf(account) }))
    .sort(
      (a, b) =>
        RANK[a.trouble.level] - RANK[b.trouble.level] ||
        (a.account.appId < b.account.appId ? -1 : a.account.appId > b.account.appId ? 1 : 0),
    );
}
