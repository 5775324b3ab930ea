// The timeline section under the cards: which account and range, when to
// read it again (reload-policy.js), the chart (timeline-chart.js) redrawn to
// the container's width, the detail line for the focused bar or mark, and
// the attempts table (the chart's content for keyboard and screen readers).

import { byId, byTestId, el, showMessage } from './dom.js';
import { formatDateTime } from './format.js';
import { attemptClassInfo, kindLabel, rangeText, sourceLabel } from './messages.js';
import { failureMessage } from './page-error.js';
import { timelineDue, timelineFingerprint } from './reload-policy.js';
import { drawChart } from './timeline-chart.js';
import { layoutTimeline } from './timeline-layout.js';
import { renderLegend } from './timeline-legend.js';
import { accountToShow, pickerChanged, pickerOptions } from './timeline-picker.js';

/** @typedef {import('./types.js').AccountStatus} AccountStatus */
/** @typedef {import('./types.js').Timeline} Timeline */
/** @typedef {import('./types.js').TimelineRange} TimelineRange */
/** @typedef {import('./api.js').Api} Api */

/**
 * The last read of the timeline that was answered: what the poll's throttle
 * (reload-policy.js) counts from. A failed read is not one: the next poll
 * reads again.
 * @typedef {{ appId: string, range: TimelineRange, fingerprint: string, atMs: number }} TimelineRead
 */

/** The attempts table lists this many of the newest calls (the chart shows them all). */
export const TABLE_ROWS = 50;
/** The chart is never drawn narrower than this (px): below, it would be unreadable anyway. */
const MIN_WIDTH = 280;

/** The timeline section. */
export class TimelineView {
  /** @param {Api} api */
  constructor(api) {
    this.api = api;
    this.section = byTestId('timeline');
    this.select = /** @type {HTMLSelectElement} */ (byTestId('timeline-account'));
    /** @type {Record<TimelineRange, HTMLButtonElement>} */
    this.rangeButtons = {
      '1h': byTestId('timeline-range-1h'),
      '24h': byTestId('timeline-range-24h'),
      '7d': byTestId('timeline-range-7d'),
    };
    this.chartBox = byId('timeline-chart-box');
    this.chart = /** @type {SVGSVGElement} */ (/** @type {unknown} */ (byTestId('timeline-chart')));
    this.message = byId('timeline-message');
    this.detail = byId('timeline-detail');
    this.tableBody = byId('attempts-body');
    this.tableNote = byId('attempts-note');
    this.heading = byId('timeline-title');

    /** @type {string | null} the account asked for (the picker's) */
    this.appId = null;
    /** @type {TimelineRange} the range asked for (the pressed button's) */
    this.range = '24h';
    /** @type {Timeline | null} the answer drawn; only ever of the view asked for, or of the one before while its successor loads */
    this.data = null;
    /** @type {Map<string, string>} each account's fingerprint, from the last poll */
    this.fingerprints = new Map();
    /** @type {TimelineRead | null} */
    this.lastRead = null;
    /** @type {{ appId: string, range: TimelineRange } | null} the read under way */
    this.reading = null;
    /** Numbers each read, so an answer to an older question (another account, range) is dropped. */
    this.sequence = 0;
    /** Whether the overview (and so the timeline) is on screen. */
    this.active = true;
    this.drawnWidth = 0;
    /** An action of this page changed the shown account: re-read at once, whatever the throttle says. */
    this.stale = false;
    /** @type {number | null} WeChat's overlap (s) in the last answer: the refresh dialog names it */
    this.overlapSeconds = null;
    /**
     * The sub-row of each value drawn so far, for the account in `subRowsAppId`: a value keeps its
     * sub-row from one reload to the next (timeline-layout.js, assignSubRows).
     * @type {import('./timeline-layout.js').SubRows}
     */
    this.subRows = new Map();
    /** @type {string | null} */
    this.subRowsAppId = null;

    this.select.addEventListener('change', () => {
      this.appId = this.select.value || null;
      this.load();
    });
    for (const [range, button] of Object.entries(this.rangeButtons)) {
      button.addEventListener('click', () => {
        this.range = /** @type {TimelineRange} */ (range);
        this.pressRange();
        this.load();
      });
    }
    this.pressRange();
    renderLegend(byId('timeline-legend'));
    // The chart holds a tab stop per bar and mark: this lets a keyboard user jump past it to the table.
    byId('skip-chart').addEventListener('click', () => {
      const details = /** @type {HTMLDetailsElement} */ (byId('attempts-details'));
      details.open = true;
      byId('attempts-summary').focus();
    });
    for (const type of ['focusin', 'mouseover', 'click']) {
      this.chart.addEventListener(type, (event) => this.describe(event.target));
    }
    // The chart follows the container's width (and is drawn once it has one, e.g. when its tab is shown).
    let frame = 0;
    new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        if (this.data && this.boxWidth() !== this.drawnWidth) this.draw();
      });
    }).observe(this.chartBox);
  }

  /**
   * A new poll of the accounts: the picker's options (rebuilt only when the
   * set of accounts changed), the account shown, and a re-read when due.
   * @param {AccountStatus[]} accounts in the overview's (trouble) order
   */
  setAccounts(accounts) {
    const ids = accounts.map((account) => account.appId);
    const listed = [...this.select.options].map((option) => option.value);
    if (pickerChanged(listed, ids)) {
      this.select.replaceChildren(
        ...pickerOptions(ids).map((id) => el('option', { text: id, attrs: { value: id } })),
      );
    }
    this.fingerprints = new Map(accounts.map((account) => [account.appId, timelineFingerprint(account)]));
    this.appId = accountToShow(this.appId, ids);
    if (this.appId === null) {
      this.clearChart();
      return;
    }
    if (this.select.value !== this.appId) this.select.value = this.appId;
    this.loadIfDue();
  }

  /**
   * Shows or hides the section with its tab; shown, it is re-read if due.
   * @param {boolean} active
   */
  setActive(active) {
    this.active = active;
    if (active) this.loadIfDue();
  }

  /**
   * A card's "Timeline" button: that account's timeline, read now, brought into view.
   * @param {string} appId
   */
  show(appId) {
    this.appId = appId;
    this.select.value = appId;
    this.load();
    this.section.scrollIntoView({ block: 'start' });
    this.heading.focus({ preventScroll: true });
  }

  /**
   * After an action on `appId`: re-read at the next poll (asked for at once) if it is the one shown.
   * @param {string} appId
   */
  actionDone(appId) {
    // Read with the poll the action triggers (app.js), so it is one read, with that poll's fingerprint.
    if (appId === this.appId) this.stale = true;
  }

  /** Forgets everything (sign-out). */
  clear() {
    this.sequence++;
    this.stale = false;
    this.appId = null;
    this.lastRead = null;
    this.reading = null;
    this.overlapSeconds = null;
    this.subRows = new Map();
    this.subRowsAppId = null;
    this.fingerprints.clear();
    this.select.replaceChildren();
    this.clearChart();
    showMessage(this.message, '');
    this.section.removeAttribute('aria-busy');
  }

  /**
   * Removes the drawing, its table and what describes it (`data-app-id`…):
   * nothing may stay on screen under a heading it no longer belongs to.
   * @private
   */
  clearChart() {
    this.data = null;
    this.chart.replaceChildren();
    this.chart.setAttribute('aria-label', 'Timeline');
    this.chartBox.classList.remove('outdated');
    this.tableBody.replaceChildren();
    this.tableNote.textContent = '';
    this.detail.textContent = '';
    delete this.section.dataset.appId;
    delete this.section.dataset.range;
    delete this.section.dataset.loadedAt;
  }

  /**
   * A poll's re-read, if due: at once for another account or range than the
   * last read's or after an action; otherwise as reload-policy.js throttles it.
   * @private
   */
  loadIfDue() {
    if (!this.active || this.appId === null) return;
    const asked = { appId: this.appId, range: this.range };
    const read = this.lastRead;
    const sameView = read !== null && read.appId === asked.appId && read.range === asked.range;
    const underWay = this.reading?.appId === asked.appId && this.reading.range === asked.range;
    if (this.stale) {
      this.load();
    } else if (underWay) {
      // Its answer is on its way: a second read would only drop the first.
    } else if (
      !sameView ||
      timelineDue({
        readFingerprint: read.fingerprint,
        readAtMs: read.atMs,
        fingerprint: this.fingerprints.get(asked.appId) ?? '',
        range: asked.range,
        nowMs: Date.now(),
      })
    ) {
      this.load();
    }
  }

  /** Reads the timeline of the chosen account and range, and draws it. */
  load() {
    const appId = this.appId;
    if (appId === null) return;
    const range = this.range;
    const sequence = ++this.sequence;
    this.stale = false;
    this.reading = { appId, range };
    const fingerprint = this.fingerprints.get(appId) ?? '';
    // Another view's drawing stays until the answer (no blank flash), dimmed: it is not what was asked.
    this.chartBox.classList.toggle('outdated', !this.showsView(appId, range));
    this.section.setAttribute('aria-busy', 'true');
    const done = () => {
      if (sequence !== this.sequence) return false;
      this.reading = null;
      this.section.removeAttribute('aria-busy');
      return true;
    };
    this.api
      .get(`accounts/${encodeURIComponent(appId)}/timeline?range=${range}`)
      .then((/** @type {Timeline} */ data) => {
        if (!done()) return;
        this.lastRead = { appId, range, fingerprint, atMs: Date.now() };
        this.data = data;
        this.overlapSeconds = data.overlapSeconds;
        this.chartBox.classList.remove('outdated');
        showMessage(this.message, '');
        this.draw();
        this.section.dataset.appId = data.appId;
        this.section.dataset.range = data.range;
        this.section.dataset.loadedAt = new Date().toISOString();
      })
      .catch((error) => {
        if (!done()) return;
        const failure = failureMessage(error);
        if (!failure) return;
        // A failed switch to another account or range: the old chart must not stand under the new choice.
        if (!this.showsView(appId, range)) this.clearChart();
        // Not retried at once, and not counted as a read by the throttle (lastRead stays the last
        // answered one): the next poll (5 s) reads again, one read at a time (loadIfDue skips a view
        // whose read is under way), until one is answered; so a failed switch of account or range
        // does not leave the chart empty until the throttle's 15 or 60 s are over.
        showMessage(this.message, `The timeline could not be read: ${failure.text}`, 'error');
      });
  }

  /**
   * Whether the chart on screen is of this account and range.
   * @param {string} appId
   * @param {TimelineRange} range
   * @private
   */
  showsView(appId, range) {
    return this.data !== null && this.data.appId === appId && this.data.range === range;
  }

  /**
   * Presses the chosen range's button and names the range in the heading.
   * @private
   */
  pressRange() {
    for (const [range, button] of Object.entries(this.rangeButtons)) {
      button.setAttribute('aria-pressed', String(range === this.range));
    }
    this.heading.textContent = `Timeline: ${rangeText(this.range)}`;
  }

  /** @private */
  boxWidth() {
    return Math.floor(this.chartBox.clientWidth);
  }

  /** Draws the chart and the table from the last answer, at the container's width. */
  draw() {
    const data = this.data;
    if (!data) return;
    const width = this.boxWidth();
    // Hidden (another tab): drawn when shown, by the resize observer.
    if (width === 0) return;
    this.drawnWidth = width;
    // Another account's values are no guide to this one's sub-rows.
    if (this.subRowsAppId !== data.appId) this.subRows = new Map();
    const layout = layoutTimeline(data, Math.max(MIN_WIDTH, width), this.subRows);
    this.subRows = layout.subRows;
    this.subRowsAppId = data.appId;
    drawChart(this.chart, layout);
    this.chart.setAttribute('aria-label', `Timeline of ${data.appId} over ${rangeText(data.range)}`);
    this.renderTable(data);
    // drawChart gave the focus back to the bar or mark that had it: its description stays too.
    const focused = document.activeElement;
    if (focused && focused !== this.chart && this.chart.contains(focused)) this.describe(focused);
    else this.detail.textContent = '';
    const values = data.credentials.reduce((sum, credential) => sum + credential.bars.length, 0);
    if (values === 0 && data.attempts.length === 0) {
      showMessage(this.message, 'No value and no call to WeChat in this window.', 'info');
    }
  }

  /**
   * The newest calls, newest first, as a table.
   * @param {Timeline} data
   * @private
   */
  renderTable(data) {
    const newest = data.attempts.slice(-TABLE_ROWS).reverse();
    this.tableBody.replaceChildren(
      ...newest.map((attempt) =>
        el(
          'tr',
          {
            testid: 'attempt-row',
            data: { id: attempt.id, class: attempt.class },
            className: attemptClassInfo(attempt.class).className,
          },
          el('td', { text: formatDateTime(Date.parse(attempt.attemptedAt)) }),
          el('td', { text: kindLabel(attempt.kind) }),
          el('td', {
            text: `${sourceLabel(attempt.source)}${attempt.forceRefresh ? ' (force_refresh)' : ''}`,
          }),
          el('td', { text: attemptClassInfo(attempt.class).label }),
          el('td', { text: attempt.outcome ?? '—' }),
          el('td', { className: 'num', text: attempt.errcode === null ? '' : String(attempt.errcode) }),
          el('td', { text: attempt.errcode === null ? '' : (attempt.errmsg ?? '') }),
          el('td', { text: attempt.hint ?? '' }),
        ),
      ),
    );
    const total = data.attempts.length;
    const shown = newest.length;
    const cut = data.attemptsTruncated ? ' (older calls were left out by the server)' : '';
    this.tableNote.textContent =
      total === 0
        ? 'No call to WeChat in this window.'
        : `The newest ${shown} of ${total} calls in this window${cut}.`;
  }

  /**
   * Writes the title of the bar or mark under the pointer or focus in the
   * detail line (a <title> alone shows on hover only, never on focus).
   * @param {EventTarget | null} target
   * @private
   */
  describe(target) {
    if (!(target instanceof Element)) return;
    const item = target.closest('[data-testid="token-bar"], [data-testid="attempt-mark"]');
    const title = item?.querySelector(':scope > title')?.textContent;
    // Unchanged, it is left alone: rewriting the live line would read it out again at every reload.
    if (title && this.detail.textContent !== title) this.detail.textContent = title;
  }
}
