// The Audit tab: admin writes, newest first (GET /admin/audit?limit=50), and
// "Older" for the next page (`before` = the previous page's `nextBefore`).

import { byId, byTestId, el, showMessage } from './dom.js';
import { formatDateTime, formatDetails } from './format.js';
import { failureMessage } from './page-error.js';

/** @typedef {import('./types.js').AuditPage} AuditPage */
/** @typedef {import('./types.js').AuditRecord} AuditRecord */
/** @typedef {import('./api.js').Api} Api */

/** Rows per page. */
export const AUDIT_PAGE = 50;

/** The Audit tab. */
export class AuditPanel {
  /** @param {Api} api */
  constructor(api) {
    this.api = api;
    this.body = byId('audit-body');
    this.more = /** @type {HTMLButtonElement} */ (byTestId('audit-more'));
    this.message = byId('audit-message');
    /** @type {string | null} */
    this.nextBefore = null;
    /** Numbers each first page, so a late page of an older read is not appended. */
    this.sequence = 0;
    this.more.addEventListener('click', () => this.loadPage(false));
  }

  /** The tab was opened: the newest page, read afresh. */
  open() {
    this.loadPage(true);
  }

  /**
   * Reads a page: the first (replacing the table) or the next older one (appended).
   * @param {boolean} first
   * @private
   */
  loadPage(first) {
    if (!first && this.nextBefore === null) return;
    const sequence = first ? ++this.sequence : this.sequence;
    const before = first ? '' : `&before=${encodeURIComponent(/** @type {string} */ (this.nextBefore))}`;
    this.more.disabled = true;
    this.api
      .get(`audit?limit=${AUDIT_PAGE}${before}`)
      .then((/** @type {AuditPage} */ page) => {
        if (sequence !== this.sequence) return;
        const rows = page.items.map((item) => row(item));
        if (first) this.body.replaceChildren(...rows);
        else this.body.append(...rows);
        this.nextBefore = page.nextBefore;
        this.more.hidden = page.nextBefore === null;
        const count = this.body.children.length;
        showMessage(this.message, count ? '' : 'No admin writes recorded yet.', 'info');
      })
      .catch((error) => {
        const failure = failureMessage(error);
        if (failure) showMessage(this.message, `The audit could not be read: ${failure.text}`, 'error');
      })
      .finally(() => {
        this.more.disabled = false;
      });
  }

  /** Forgets everything (sign-out). */
  clear() {
    this.sequence++;
    this.body.replaceChildren();
    this.nextBefore = null;
    this.more.hidden = true;
    showMessage(this.message, '');
  }
}

/**
 * One audit record as a table row.
 * @param {AuditRecord} item
 */
function row(item) {
  return el(
    'tr',
    { testid: 'audit-row', data: { action: item.action, id: item.id } },
    el('td', { text: formatDateTime(Date.parse(item.at)) }),
    el('td', { text: item.adminKeyName }),
    el('td', { className: 'mono', text: item.clientIp }),
    el('td', { className: 'mono', text: item.action }),
    el('td', { className: 'mono', text: item.target }),
    el('td', { className: 'details', text: formatDetails(item.details) }),
  );
}
