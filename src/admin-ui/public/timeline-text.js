// The words of the timeline: each bar's and mark's `<title>` (what a hover
// or a screen reader tells) and the attempts table's cells. No DOM here
// (timeline-text.spec.ts).

import { formatDateTime } from './format.js';
import { attemptClassInfo, kindLabel, sourceLabel } from './messages.js';

/** @typedef {import('./types.js').TimelineBar} TimelineBar */
/** @typedef {import('./types.js').TimelineAttempt} TimelineAttempt */

/**
 * A value's title: which value (masked), when fetched and why, until when
 * it lived, and how it ended (replaced, the overlap, reported dead).
 * @param {TimelineBar} bar
 * @param {string} kind
 * @param {string} [locale]
 * @returns {string}
 */
export function barTitle(bar, kind, locale) {
  const at = (/** @type {string} */ iso) => formatDateTime(Date.parse(iso), locale);
  const lines = [
    `${kindLabel(kind)} ${bar.value ?? '(value not recorded)'} (id ${bar.id})`,
    `fetched ${at(bar.fetchedAt)}, ${sourceLabel(bar.source)} → expires ${at(bar.expiresAt)}`,
  ];
  if (bar.replacedAt) {
    const overlap = bar.overlapEndsAt
      ? `, still worked beside it until ${at(bar.overlapEndsAt)}, then dead`
      : '';
    lines.push(`replaced ${at(bar.replacedAt)}${overlap}`);
  } else {
    lines.push('the newest value');
  }
  if (bar.reportedDeadAt) lines.push(`reported dead ${at(bar.reportedDeadAt)}: WeChat rejected it`);
  if (bar.instanceId) lines.push(`fetched by ${bar.instanceId}`);
  return lines.join('\n');
}

/**
 * What WeChat answered, in one phrase: "errcode 40164 invalid ip…", "timeout", "ok".
 * @param {Pick<TimelineAttempt, 'outcome' | 'errcode' | 'errmsg'>} attempt
 * @returns {string}
 */
export function attemptAnswer(attempt) {
  if (attempt.errcode !== null)
    return `errcode ${attempt.errcode}${attempt.errmsg ? ` ${attempt.errmsg}` : ''}`;
  if (attempt.outcome === null) return 'no result recorded';
  return attempt.errmsg ? `${attempt.outcome}: ${attempt.errmsg}` : attempt.outcome;
}

/**
 * A call's title: when, for what, why; its class and WeChat's answer; what
 * to do about it (the hint) for a failure.
 * @param {TimelineAttempt} attempt
 * @param {string} [locale]
 * @returns {string}
 */
export function attemptTitle(attempt, locale) {
  const asked = attempt.forceRefresh ? ', force_refresh' : '';
  const latency = attempt.latencyMs !== null ? ` in ${attempt.latencyMs} ms` : '';
  const lines = [
    `${formatDateTime(Date.parse(attempt.attemptedAt), locale)}: ${kindLabel(attempt.kind)} from ${attempt.endpoint}, ${sourceLabel(attempt.source)}${asked}`,
    `${attemptClassInfo(attempt.class).label}: ${attemptAnswer(attempt)}${latency}`,
  ];
  if (attempt.hint) lines.push(attempt.hint);
  return lines.join('\n');
}
