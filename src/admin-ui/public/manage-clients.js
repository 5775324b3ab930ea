// Manage › Clients: the client keys (GET /admin/clients) with Revoke, and the
// form that creates one. The new key is handed to the client-key dialog
// (client-key-dialog.js) the moment it arrives, and kept nowhere else.

import { ClientKeyDialog } from './client-key-dialog.js';
import { confirmAction } from './dialogs.js';
import { byId, byTestId, el, focusWasLost } from './dom.js';
import { formatAgo, formatDateTime } from './format.js';
import { failureMessage } from './page-error.js';

/** @typedef {import('./types.js').TokenClient} TokenClient */
/** @typedef {import('./types.js').CreatedTokenClient} CreatedTokenClient */
/** @typedef {import('./types.js').AccountSettings} AccountSettings */
/** @typedef {import('./api.js').Api} Api */
/** @typedef {import('./manage-accounts.js').Say} Say */

/**
 * The CIDR lines of the textarea: one network per line, blanks and spaces dropped.
 * @param {string} text
 * @returns {string[]}
 */
export function cidrLines(text) {
  return text
    .split(/[\r\n,]+/)
    .map((line) => line.trim())
    .filter(Boolean);
}

/** The clients list and form of the Manage tab. */
export class ClientsAdmin {
  /**
   * @param {{ api: Api, say: Say, serverNow: () => number }} options
   */
  constructor(options) {
    this.options = options;
    this.list = byId('client-list');
    this.form = /** @type {HTMLFormElement} */ (byTestId('client-form'));
    this.appIdBox = byId('client-app-ids');
    this.keyDialog = new ClientKeyDialog();
    this.busy = false;
    /** Counts sign-outs (`clear`), so an answer to a signed-out session (a new key!) is dropped. */
    this.generation = 0;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const generation = this.generation;
      this.create().catch((error) => this.fail(error, this.form, generation));
    });
  }

  /** Reads and shows the clients. */
  async load() {
    const generation = this.generation;
    /** @type {TokenClient[]} */
    const clients = await this.options.api.get('clients');
    // Signed out meanwhile: nothing may come back into the page.
    if (generation !== this.generation) return;
    this.list.replaceChildren(...clients.map((client) => this.row(client)));
    if (!clients.length) this.list.append(el('li', { className: 'empty', text: 'No client keys yet.' }));
  }

  /**
   * The form's account checkboxes, one per account (checked ones stay checked).
   * @param {AccountSettings[]} settings
   */
  setAccounts(settings) {
    const checked = new Set(
      [...this.appIdBox.querySelectorAll('input[name="appIds"]:checked')].map((input) =>
        input instanceof HTMLInputElement ? input.value : '',
      ),
    );
    this.appIdBox.replaceChildren(
      ...settings.map((account, index) => {
        const id = `client-app-${index}`;
        return el(
          'div',
          { className: 'check' },
          el('input', {
            attrs: {
              type: 'checkbox',
              name: 'appIds',
              value: account.appId,
              id,
              checked: checked.has(account.appId),
            },
          }),
          el('label', {
            attrs: { for: id },
            className: 'mono',
            text: account.enabled ? account.appId : `${account.appId} (disabled)`,
          }),
        );
      }),
    );
    if (!settings.length) this.appIdBox.append(el('p', { className: 'note', text: 'Add an account first.' }));
  }

  /**
   * One client's row.
   * @param {TokenClient} client
   * @private
   */
  row(client) {
    const used = client.lastUsedAt
      ? `last used ${formatAgo((this.options.serverNow() - Date.parse(client.lastUsedAt)) / 1000)}`
      : 'never used';
    /** @type {HTMLElement} */
    let action;
    if (client.enabled) {
      const button = el('button', {
        testid: 'client-revoke',
        className: 'danger',
        text: 'Revoke…',
        attrs: {
          type: 'button',
          'aria-haspopup': 'dialog',
          'aria-label': `Revoke the key of ${client.name}…`,
        },
      });
      button.addEventListener('click', () => {
        const generation = this.generation;
        this.revoke(client, button).catch((error) => this.fail(error, this.list, generation));
      });
      action = button;
    } else {
      action = el('span', { className: 'note', text: 'revoked: its key is refused' });
    }
    return el(
      'li',
      {
        testid: 'client-row',
        data: { clientId: String(client.id) },
        className: client.enabled ? 'row' : 'row disabled',
      },
      el(
        'p',
        { className: 'row-head' },
        el('strong', { text: client.name }),
        el('span', { className: 'note', text: ` #${client.id}` }),
        el('span', {
          className: `badge ${client.enabled ? 'on' : 'off'}`,
          text: client.enabled ? 'active' : 'revoked',
        }),
      ),
      el('p', {
        className: 'row-facts',
        text: `accounts: ${client.appIds.join(', ') || 'none'} · networks: ${client.cidrs.join(', ') || 'the global allowlist'} · ${used} · created ${formatDateTime(Date.parse(client.createdAt))}`,
      }),
      el('div', { className: 'row-actions' }, action),
    );
  }

  /** The create form: POST /admin/clients, then the key, once, in its dialog. */
  async create() {
    if (this.busy) return;
    const data = new FormData(this.form);
    const body = {
      name: String(data.get('name') ?? '').trim(),
      appIds: data.getAll('appIds').map(String),
      cidrs: cidrLines(String(data.get('cidrs') ?? '')),
    };
    this.busy = true;
    try {
      const generation = this.generation;
      /** @type {CreatedTokenClient} */
      const created = await this.options.api.post('clients', body);
      // Signed out meanwhile: the key of a session that is over is not shown.
      if (generation !== this.generation) return;
      // First, whatever tab is on screen now: it cannot be asked for again.
      this.keyDialog.show(created.name, created.key);
      this.form.reset();
      this.options.say(`Client ${created.name} created (#${created.id}).`, 'ok', this.form);
      await this.load();
    } finally {
      this.busy = false;
    }
  }

  /**
   * Revoke (DELETE /admin/clients/:id), after a confirmation.
   * @param {TokenClient} client
   * @param {HTMLButtonElement} button
   */
  async revoke(client, button) {
    const generation = this.generation;
    const confirmed = await confirmAction(
      {
        title: `Revoke the key of ${client.name}?`,
        text: 'Its key is refused at once on this replica and within seconds on every other one (40125). The client stays listed.',
        confirm: 'Revoke',
      },
      button,
    );
    if (!confirmed || generation !== this.generation) return;
    await this.options.api.delete(`clients/${encodeURIComponent(String(client.id))}`);
    // Signed out meanwhile: nothing of it may come back into the page.
    if (generation !== this.generation) return;
    this.options.say(`The key of ${client.name} is revoked.`, 'ok', this.list);
    await this.load();
    // The list was rebuilt under the button: the focus goes to the list, unless the admin moved on.
    if (generation === this.generation && focusWasLost(button)) this.list.focus();
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

  /** Forgets everything (sign-out). */
  clear() {
    this.generation++;
    this.keyDialog.close();
    this.list.replaceChildren();
    this.appIdBox.replaceChildren();
    this.form.reset();
  }
}
