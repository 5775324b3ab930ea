// One account's card on the overview: built once per account and updated in
// place at every poll (so a focused button keeps its focus, and a message
// stays put), with countdowns rewritten every second from the last snapshot.

import { secondsSince, secondsUntil } from './clock.js';
import { el, showMessage } from './dom.js';
import { formatAgo, formatClock, formatCountdown, percentOf } from './format.js';
import { blockedText, kindLabel, riskText } from './messages.js';
import { retryText } from './outcomes.js';
import { lastFetchFailed, quotaShare, QUOTA_WARN_SHARE } from './trouble.js';

/** @typedef {import('./types.js').AccountStatus} AccountStatus */
/** @typedef {import('./types.js').LastError} LastError */
/** @typedef {import('./trouble.js').Trouble} Trouble */
/** @typedef {import('./outcomes.js').ActionMessage} ActionMessage */

/**
 * @typedef {object} CardActions
 * @property {(appId: string, button: HTMLButtonElement) => void} refresh the "Refresh…" button
 * @property {(appId: string) => void} timeline the "Timeline" button
 */

/** Words and a sign for each trouble level: the sign is a second carrier beside the border colour. */
const TROUBLE_SIGN = { error: '✖', warn: '▲', ok: '' };

/**
 * A `<dt>`/`<dd>` pair of the card's facts.
 * @param {string} term
 * @param {HTMLElement} value
 */
function fact(term, value) {
  return [el('dt', { text: term }), value];
}

/** A live countdown: its element and what it counts to. */
class Countdown {
  /**
   * @param {HTMLElement} element
   * @param {string} zero the text once it ran out ("expired", "due")
   */
  constructor(element, zero) {
    this.element = element;
    this.zero = zero;
    /** @type {number | null} server-clock ms it counts to; null: nothing to count to */
    this.targetMs = null;
    this.none = zero;
  }

  /**
   * @param {number | null} targetMs
   * @param {string} none the text when there is nothing to count to
   */
  set(targetMs, none) {
    this.targetMs = targetMs;
    this.none = none;
  }

  /** @param {number} serverNowMs */
  tick(serverNowMs) {
    if (this.targetMs === null) {
      this.element.dataset.seconds = '0';
      this.element.textContent = this.none;
      return;
    }
    const seconds = Math.max(0, Math.floor((this.targetMs - serverNowMs) / 1000));
    this.element.dataset.seconds = String(seconds);
    const at = seconds > 0 ? `, at ${formatClock(this.targetMs)}` : '';
    this.element.textContent = `${formatCountdown(seconds, this.zero)}${at}`;
  }
}

/**
 * An error block: errcode, errmsg, the operator's hint, and when.
 * @param {LastError} error
 * @param {number} serverNowMs
 * @param {string} prefix the data-testid prefix (`card-error` for the token's, `ticket-error` for a ticket's)
 * @param {boolean} current whether it is newer than the value held (the last fetch failed)
 */
function errorBlock(error, serverNowMs, prefix, current) {
  const ago = secondsSince(error.at, serverNowMs);
  return el(
    'div',
    { className: `error-block${current ? ' current' : ''}`, testid: prefix },
    el(
      'p',
      { className: 'error-line' },
      el('strong', { text: current ? 'Last fetch failed' : 'Last error' }),
      ` at ${formatClock(Date.parse(error.at))}${ago === null ? '' : ` (${formatAgo(ago)})`}: errcode `,
      el('code', { testid: `${prefix}-code`, text: String(error.errcode) }),
      ' ',
      el('span', { testid: `${prefix}-msg`, text: error.errmsg }),
    ),
    el('p', { className: 'hint', testid: `${prefix}-hint`, text: error.hint }),
  );
}

/** One account's card. */
export class AccountCard {
  /**
   * @param {string} appId
   * @param {CardActions} actions
   */
  constructor(appId, actions) {
    this.appId = appId;
    /** @type {AccountStatus | null} */
    this.account = null;
    /** Server-clock ms the snapshot's relative numbers (servedExpiresIn) count from. */
    this.snapshotMs = 0;
    /**
     * A 429's countdown, and the copy of its sentence that ticks (hidden from screen readers).
     * @type {{ message: string, seconds: number, untilLocalMs: number, shown: HTMLElement } | null}
     */
    this.retry = null;
    /** Whether a refresh of this account is under way (a second one is not started). */
    this.busy = false;

    const titleId = `card-title-${appId}`;
    this.title = el('h3', { attrs: { id: titleId }, text: appId });
    this.mode = el('span', { className: 'badge', testid: 'card-mode' });
    this.troubleLine = el('p', { className: 'trouble' });
    this.token = el('dd', { testid: 'card-token', className: 'mono' });
    const expiry = el('dd', { testid: 'countdown-expiry' });
    this.expiry = new Countdown(expiry, 'expired');
    this.served = el('dd', { className: 'served' });
    this.servedTerm = el('dt', { text: 'Promised to clients' });
    this.servedUntilMs = /** @type {number | null} */ (null);
    const refresh = el('dd', { testid: 'countdown-refresh' });
    this.nextRefresh = new Countdown(refresh, 'due');
    this.blockedTerm = el('dt', { text: 'Held back' });
    this.blocked = el('dd', { className: 'blocked' });
    this.quotaMeter = el('meter', { testid: 'quota-bar', attrs: { min: 0 } });
    this.quotaText = el('span', { className: 'quota-text' });
    this.errorSlot = el('div', { className: 'error-slot' });
    this.tickets = el('ul', { className: 'tickets', attrs: { 'aria-label': 'Tickets' } });
    /** @type {{ countdown: Countdown, served: HTMLElement, servedUntilMs: number | null }[]} */
    this.ticketCountdowns = [];
    this.refreshButton = el('button', {
      testid: 'card-refresh',
      text: 'Refresh…',
      attrs: { type: 'button', 'aria-haspopup': 'dialog', 'aria-describedby': titleId },
    });
    const timelineButton = el('button', {
      testid: 'card-timeline',
      text: 'Timeline',
      attrs: { type: 'button', 'aria-controls': 'timeline', 'aria-describedby': titleId },
    });
    this.message = el('p', { testid: 'card-message', className: 'message', attrs: { role: 'status' } });

    this.refreshButton.addEventListener('click', () => actions.refresh(appId, this.refreshButton));
    timelineButton.addEventListener('click', () => actions.timeline(appId));

    this.root = el(
      'article',
      { className: 'card', testid: 'account-card', data: { appId }, attrs: { 'aria-labelledby': titleId } },
      el(
        'header',
        { className: 'card-head' },
        this.title,
        el('span', { className: 'visually-hidden', text: 'mode' }),
        this.mode,
      ),
      this.troubleLine,
      el(
        'dl',
        { className: 'facts' },
        ...fact('Token', this.token),
        ...fact('Expires', expiry),
        this.servedTerm,
        this.served,
        ...fact('Next refresh', refresh),
        this.blockedTerm,
        this.blocked,
        ...fact('Calls today', el('dd', { className: 'quota' }, this.quotaMeter, this.quotaText)),
      ),
      this.errorSlot,
      this.tickets,
      el('div', { className: 'card-actions' }, this.refreshButton, timelineButton),
      this.message,
    );
  }

  /**
   * Shows a new snapshot of the account.
   * @param {AccountStatus} account
   * @param {Trouble} trouble
   * @param {number} snapshotMs the server's clock when the snapshot was taken
   */
  update(account, trouble, snapshotMs) {
    this.account = account;
    this.snapshotMs = snapshotMs;
    this.root.dataset.trouble = trouble.level;
    this.mode.textContent = account.mode;
    this.mode.title = account.mode === 'stable' ? 'POST /cgi-bin/stable_token' : 'GET /cgi-bin/token';

    this.troubleLine.textContent = '';
    if (trouble.level !== 'ok') {
      this.troubleLine.append(
        el('span', {
          className: 'sign',
          attrs: { 'aria-hidden': 'true' },
          text: TROUBLE_SIGN[trouble.level],
        }),
        ` Needs attention: ${trouble.reasons.join('; ')}`,
      );
    }
    this.troubleLine.hidden = trouble.level === 'ok';

    this.token.textContent = account.token ?? 'none';
    this.expiry.set(account.expiresAt && account.token ? Date.parse(account.expiresAt) : null, 'no token');
    this.servedUntilMs =
      account.servedExpiresIn < account.expiresIn ? snapshotMs + account.servedExpiresIn * 1000 : null;
    this.nextRefresh.set(account.nextRefreshAt ? Date.parse(account.nextRefreshAt) : null, 'due');

    this.quotaMeter.max = Math.max(1, account.dailyQuota);
    this.quotaMeter.high = account.dailyQuota * QUOTA_WARN_SHARE;
    this.quotaMeter.low = account.dailyQuota * 0.5;
    this.quotaMeter.optimum = 0;
    this.quotaMeter.value = account.upstreamCallsToday ?? 0;
    this.quotaMeter.dataset.used =
      account.upstreamCallsToday === null ? '' : String(account.upstreamCallsToday);
    this.quotaMeter.dataset.quota = String(account.dailyQuota);
    this.quotaMeter.setAttribute(
      'aria-label',
      `Calls to WeChat today: ${account.upstreamCallsToday ?? 'unknown'} of ${account.dailyQuota}`,
    );
    this.quotaText.textContent = quotaWords(account);

    this.renderErrorAndTickets(snapshotMs);
  }

  /**
   * The last error and the tickets, rebuilt at each snapshot (they hold nothing focusable).
   * @param {number} serverNowMs
   */
  renderErrorAndTickets(serverNowMs) {
    const account = this.account;
    if (!account) return;
    this.errorSlot.replaceChildren();
    if (account.lastError) {
      this.errorSlot.append(
        errorBlock(account.lastError, serverNowMs, 'card-error', lastFetchFailed(account)),
      );
    }
    this.ticketCountdowns = [];
    this.tickets.replaceChildren(
      ...(account.tickets ?? []).map((ticket) => {
        const countdownElement = el('span', { testid: 'ticket-countdown' });
        const countdown = new Countdown(countdownElement, 'expired');
        countdown.set(ticket.expiresAt && ticket.ticket ? Date.parse(ticket.expiresAt) : null, 'no ticket');
        const served = el('span', { className: 'served' });
        this.ticketCountdowns.push({
          countdown,
          served,
          servedUntilMs:
            ticket.servedExpiresIn < ticket.expiresIn
              ? this.snapshotMs + ticket.servedExpiresIn * 1000
              : null,
        });
        return el(
          'li',
          {
            testid: 'card-ticket',
            data: { type: ticket.type },
            className: ticket.usable ? 'ticket' : 'ticket unusable',
          },
          el(
            'p',
            {},
            el('strong', { text: kindLabel(ticket.type) }),
            ' ',
            el('span', { className: 'mono', text: ticket.ticket ?? 'none' }),
            ticket.usable ? ' · expires ' : ' · not usable · ',
            countdownElement,
            served,
          ),
          ticket.blockedReason
            ? el('p', {
                className: 'blocked',
                text: `Held back${ticket.blockedUntil ? ` until ${formatClock(Date.parse(ticket.blockedUntil))}` : ''}: ${blockedText(ticket.blockedReason)}`,
              })
            : null,
          ticket.lastError
            ? errorBlock(ticket.lastError, serverNowMs, 'ticket-error', lastFetchFailed(ticket))
            : null,
        );
      }),
    );
    this.tickets.hidden = !(account.tickets ?? []).length;
  }

  /**
   * Rewrites the countdowns (every second).
   * @param {number} serverNowMs the server's clock now
   * @param {number} localNowMs the browser's clock now (the 429's wait counts on it: Retry-After is relative)
   */
  tick(serverNowMs, localNowMs) {
    const account = this.account;
    if (!account) return;
    this.expiry.tick(serverNowMs);
    this.nextRefresh.tick(serverNowMs);

    const showServed = this.servedUntilMs !== null && account.token !== null;
    this.servedTerm.hidden = !showServed;
    this.served.hidden = !showServed;
    if (showServed && this.servedUntilMs !== null) {
      const left = Math.max(0, Math.floor((this.servedUntilMs - serverNowMs) / 1000));
      const risk = account.risk ? ` (risk ${account.risk}: ${riskText(account.risk)})` : '';
      this.served.textContent = `${formatCountdown(left, 'no longer')}${risk}`;
    }

    const blockedLeft = secondsUntil(account.blockedUntil, serverNowMs);
    this.blockedTerm.hidden = !account.blockedReason;
    this.blocked.hidden = !account.blockedReason;
    if (account.blockedReason) {
      const until =
        account.blockedUntil && blockedLeft !== null
          ? `until ${formatClock(Date.parse(account.blockedUntil))} (${formatCountdown(blockedLeft, 'ending')}): `
          : '';
      this.blocked.textContent = `${until}${blockedText(account.blockedReason)}`;
    }

    for (const ticket of this.ticketCountdowns) {
      ticket.countdown.tick(serverNowMs);
      if (ticket.servedUntilMs !== null) {
        const left = Math.max(0, Math.floor((ticket.servedUntilMs - serverNowMs) / 1000));
        ticket.served.textContent = ` · promised ${formatCountdown(left, 'no longer')}`;
      }
    }

    if (this.retry) {
      const { message, seconds, untilLocalMs, shown } = this.retry;
      const left = Math.max(0, Math.ceil((untilLocalMs - localNowMs) / 1000));
      if (left === 0) {
        // The end is news: the whole line is replaced, and said once.
        this.retry = null;
        showMessage(this.message, retryText(message, 0, seconds), 'retry');
      } else {
        // Only the copy hidden from screen readers ticks: a live region rewritten every second is read out every second.
        const text = retryText(message, left, seconds);
        if (shown.textContent !== text) shown.textContent = text;
      }
    }
  }

  /**
   * Shows the outcome of an action in the card's message line; a 429 counts its wait down.
   * @param {ActionMessage} message
   * @param {number} localNowMs
   */
  say(message, localNowMs) {
    this.retry = null;
    if (!message.retry || message.retry.seconds <= 0) {
      showMessage(this.message, message.text, message.kind);
      return;
    }
    // A 429's wait: the sentence read out (once, as it appears) stays as it is, with the clock time
    // the wait ends; the one on screen counts down, hidden from screen readers (tick).
    const untilLocalMs = localNowMs + message.retry.seconds * 1000;
    const shown = el('span', { attrs: { 'aria-hidden': 'true' }, text: message.text });
    this.message.replaceChildren(
      el('span', {
        className: 'visually-hidden',
        text: `${message.text} That is at ${formatClock(untilLocalMs)}.`,
      }),
      shown,
    );
    this.message.dataset.kind = message.kind;
    this.retry = { message: message.retry.message, seconds: message.retry.seconds, untilLocalMs, shown };
  }
}

/**
 * "12 of 2000 calls today (1 %)", and when the quota was resumed.
 * @param {AccountStatus} account
 */
function quotaWords(account) {
  if (account.upstreamCallsToday === null)
    return `unknown of ${account.dailyQuota} (the database is unavailable)`;
  const share = quotaShare(account) ?? 0;
  const warn = share > QUOTA_WARN_SHARE ? ' — over 80 %' : '';
  const resumed = account.quotaResumedAt
    ? `; quota resumed at ${formatClock(Date.parse(account.quotaResumedAt))}`
    : '';
  return `${account.upstreamCallsToday} of ${account.dailyQuota} (${percentOf(account.upstreamCallsToday, account.dailyQuota)} %)${warn}${resumed}`;
}
