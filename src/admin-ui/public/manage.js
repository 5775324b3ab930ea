// The Manage tab: accounts and client keys, read when the tab is opened, and
// one message line that moves next to the action it reports on (the tests
// find it by one data-testid; a reader finds it where they acted).

import { byId, byTestId, showMessage } from './dom.js';
import { AccountsAdmin } from './manage-accounts.js';
import { ClientsAdmin } from './manage-clients.js';
import { failureMessage } from './page-error.js';

/** @typedef {import('./api.js').Api} Api */

/** The Manage tab. */
export class ManagePanel {
  /**
   * @param {{ api: Api, afterChange: () => void, serverNow: () => number }} options
   */
  constructor(options) {
    this.message = byTestId('manage-message');
    this.panel = byId('panel-manage');
    /** Counts sign-outs (`clear`), so a late failure of a signed-out session says nothing. */
    this.generation = 0;
    /** @type {import('./manage-accounts.js').Say} */
    const say = (text, kind, near) => {
      // After the form or list it concerns (its section's end when it is a form or list).
      if (near.nextElementSibling !== this.message) near.after(this.message);
      showMessage(this.message, text, kind);
    };
    this.clients = new ClientsAdmin({ api: options.api, say, serverNow: options.serverNow });
    this.accounts = new AccountsAdmin({
      api: options.api,
      say,
      changed: (settings) => this.clients.setAccounts(settings),
      afterChange: options.afterChange,
    });
  }

  /** The tab was opened: read both lists. */
  open() {
    showMessage(this.message, '');
    const generation = this.generation;
    Promise.all([this.accounts.load(), this.clients.load()]).catch((error) => {
      const failure = failureMessage(error);
      if (!failure || generation !== this.generation) return;
      const text = `The lists could not be read: ${failure.text}`;
      this.panel.prepend(this.message);
      showMessage(this.message, text, 'error');
    });
  }

  /** Forgets everything (sign-out). */
  clear() {
    this.generation++;
    this.accounts.clear();
    this.clients.clear();
    showMessage(this.message, '');
  }
}
