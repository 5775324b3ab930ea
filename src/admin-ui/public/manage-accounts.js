// Manage › Accounts: the accounts of `wechat_account` (GET /admin/account-settings),
// with Disable / Enable for those added through the API, and the form that
// adds one. Accounts of WECHAT_ACCOUNTS are changed in the environment only:
// their rows say so instead of offering buttons the server would refuse.

import { confirmAction } from './dialogs.js';
import { byId, byTestId, el, focusWasLost } from './dom.js';
import { formatDateTime } from './format.js';
import { kindLabel } from './messages.js';
import { failureMessage } from './page-error.js';

/** @typedef {import('./types.js').AccountSettings} AccountSettings */
/** @typedef {import('./api.js').Api} Api */
/** @typedef {(text: string, kind: string, near: Element) => void} Say */

/**
 * @typedef {object} AccountsAdminOptions
 * @property {Api} api
 * @property {Say} say shows a message next to `near` (the manage panel's one message line)
 * @property {(settings: AccountSettings[]) => void} changed the list was read (after a change too)
 * @property {() => void} afterChange an account was added, disabled or enabled: re-read the overview
 */

/** The accounts list and form of the Manage tab. */
export class AccountsAdmin {
  /** @param {AccountsAdminOptions} options */
  constructor(options) {
    this.options = options;
    this.list = byId('account-list');
    this.form = /** @type {HTMLFormElement} */ (byTestId('account-form'));
    this.busy = false;
    /** Counts sign-outs (`clear`), so an answer to a signed-out session is dropped. */
    this.generation = 0;
    this.secretInput = /** @type {HTMLInputElement} */ (this.form.elements.namedItem('secret'));
    this.form.addEventListener('submit', (event) => {
      // form-action 'none' would block a real submission anyway; this is the only way it is sent.
      event.preventDefault();
      const body = this.read();
      // Whatever comes of it (sent, refused, not sent while another add runs): the secret leaves the field now.
      this.secretInput.value = '';
      const generation = this.generation;
      this.add(body).catch((error) => this.fail(error, this.form, generation));
    });
  }

  /** Reads and shows the accounts. */
  async load() {
    const generation = this.generation;
    /** @type {AccountSettings[]} */
    const settings = await this.options.api.get('account-settings');
    // Signed out meanwhile: nothing may come back into the page.
    if (generation !== this.generation) return;
    this.render(settings);
    this.options.changed(settings);
  }

  /**
   * @param {AccountSettings[]} settings
   * @private
   */
  render(settings) {
    this.list.replaceChildren(...settings.map((account) => this.row(account)));
    if (!settings.length) this.list.append(el('li', { className: 'empty', text: 'No accounts yet.' }));
  }

  /**
   * One account's row.
   * @param {AccountSettings} account
   * @private
   */
  row(account) {
    const tickets = account.tickets.length ? account.tickets.map(kindLabel).join(', ') : 'no tickets';
    /** @type {HTMLElement} */
    let action;
    if (account.source === 'env') {
      action = el('span', { className: 'note', text: 'from WECHAT_ACCOUNTS: change it there' });
    } else if (account.enabled) {
      const button = el('button', {
        testid: 'account-disable',
        className: 'danger',
        text: 'Disable…',
        attrs: { type: 'button', 'aria-haspopup': 'dialog', 'aria-label': `Disable ${account.appId}…` },
      });
      button.addEventListener('click', () => {
        const generation = this.generation;
        this.disable(account.appId, button).catch((error) => this.fail(error, this.list, generation));
      });
      action = button;
    } else {
      const button = el('button', {
        testid: 'account-enable',
        text: 'Enable',
        attrs: { type: 'button', 'aria-label': `Enable ${account.appId}` },
      });
      button.addEventListener('click', () => {
        const generation = this.generation;
        this.enable(account.appId, button).catch((error) => this.fail(error, this.list, generation));
      });
      action = button;
    }
    return el(
      'li',
      {
        testid: 'account-row',
        data: { appId: account.appId },
        className: account.enabled ? 'row' : 'row disabled',
      },
      el(
        'p',
        { className: 'row-head' },
        el('strong', { className: 'mono', text: account.appId }),
        el('span', {
          className: `badge ${account.enabled ? 'on' : 'off'}`,
          text: account.enabled ? 'enabled' : 'disabled',
        }),
        el('span', { className: 'badge', text: account.source === 'env' ? 'env' : 'API' }),
      ),
      el('p', {
        className: 'row-facts',
        text: `mode ${account.mode} · ${tickets} · changed ${formatDateTime(Date.parse(account.updatedAt))}`,
      }),
      el('div', { className: 'row-actions' }, action),
    );
  }

  /**
   * The add form's fields, as POST /admin/accounts takes them.
   * @private
   */
  read() {
    const data = new FormData(this.form);
    return {
      appId: String(data.get('appId') ?? '').trim(),
      secret: String(data.get('secret') ?? ''),
      mode: String(data.get('mode') ?? 'token'),
      tickets: data.getAll('tickets').map(String),
    };
  }

  /**
   * POST /admin/accounts (the submit handler has already emptied the secret field).
   * @param {{ appId: string, secret: string, mode: string, tickets: string[] }} body
   */
  async add(body) {
    if (this.busy) {
      this.options.say('An account is still being added: try again when it is done.', 'info', this.form);
      return;
    }
    this.busy = true;
    try {
      const generation = this.generation;
      /** @type {AccountSettings} */
      const created = await this.options.api.post('accounts', body);
      if (generation !== this.generation) return;
      this.form.reset();
      this.options.say(
        `Account ${created.appId} added (mode ${created.mode}); its first token is being fetched.`,
        'ok',
        this.form,
      );
      this.options.afterChange();
      await this.load();
    } finally {
      this.busy = false;
    }
  }

  /**
   * Disable (DELETE /admin/accounts/:appId), after a confirmation.
   * @param {string} appId
   * @param {HTMLButtonElement} button
   */
  async disable(appId, button) {
    const generation = this.generation;
    const confirmed = await confirmAction(
      {
        title: `Disable ${appId}?`,
        text: 'No more refreshes; clients asking for its token get 40013. Its history stays, and Enable serves it again.',
        confirm: 'Disable',
      },
      button,
    );
    if (!confirmed || generation !== this.generation) return;
    await this.options.api.delete(`accounts/${encodeURIComponent(appId)}`);
    // Signed out meanwhile: nothing of it may come back into the page.
    if (generation !== this.generation) return;
    this.options.say(`Account ${appId} disabled.`, 'ok', this.list);
    this.options.afterChange();
    await this.load();
    if (generation === this.generation) this.focusRow(appId, button);
  }

  /**
   * Enable (PATCH /admin/accounts/:appId {enabled: true}).
   * @param {string} appId
   * @param {HTMLButtonElement} button the row's "Enable" (gone once the list is read again)
   */
  async enable(appId, button) {
    const generation = this.generation;
    await this.options.api.patch(`accounts/${encodeURIComponent(appId)}`, { enabled: true });
    // Signed out meanwhile: nothing of it may come back into the page.
    if (generation !== this.generation) return;
    this.options.say(`Account ${appId} enabled.`, 'ok', this.list);
    this.options.afterChange();
    await this.load();
    if (generation === this.generation) this.focusRow(appId, button);
  }

  /**
   * The list was rebuilt under the button that acted: focus the same row's
   * new button, but only if the focus went nowhere else meanwhile (it is on
   * the removed button, or fell back to the body); an admin who went on to
   * type in the form keeps the focus there.
   * @param {string} appId
   * @param {HTMLButtonElement} button
   * @private
   */
  focusRow(appId, button) {
    if (!focusWasLost(button)) return;
    for (const row of this.list.querySelectorAll('[data-testid="account-row"]')) {
      if (row instanceof HTMLElement && row.dataset.appId === appId) row.querySelector('button')?.focus();
    }
  }

  /**
   * Says what went wrong, next to where it happened (a 401 signs out instead);
   * nothing when the session that acted is over (signed out meanwhile).
   * @param {unknown} error
   * @param {Element} near
   * @param {number} generation `this.generation` when the action began
   */
  fail(error, near, generation) {
    const failure = failureMessage(error);
    if (failure && generation === this.generation) this.options.say(failure.text, 'error', near);
  }

  /** Forgets the list and empties the form (sign-out). */
  clear() {
    this.generation++;
    this.list.replaceChildren();
    this.form.reset();
  }
}
