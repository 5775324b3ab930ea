// A new client key, shown once: the server keeps only its digest, so this is
// the one moment anyone can copy it. It is shown in a modal dialog, opened
// the moment the key arrives whatever tab is on screen (the admin may have
// left Manage while the request ran), and the page holds it nowhere else:
// closing the dialog (its button, Escape, or signing out, which closes every
// dialog) empties the field, the key's only copy in the page.

import { byId, byTestId, showMessage } from './dom.js';

/** The client-key dialog of index.html. */
export class ClientKeyDialog {
  constructor() {
    this.dialog = /** @type {HTMLDialogElement} */ (byTestId('client-key-dialog'));
    this.input = /** @type {HTMLInputElement} */ (byTestId('client-key'));
    this.owner = byId('client-key-owner');
    this.message = byId('client-key-message');
    byTestId('client-key-copy').addEventListener('click', () => {
      this.copy().catch(() => this.selectForCopy());
    });
    byTestId('client-key-close').addEventListener('click', () => this.close());
    // Every way of closing ends here too (Escape, closeDialogs() at sign-out): the key leaves the page.
    this.dialog.addEventListener('close', () => this.forget());
  }

  /**
   * Shows a new key, at once (modal: the rest of the page waits until it is closed).
   * @param {string} name the client's name
   * @param {string} key
   */
  show(name, key) {
    this.owner.textContent = name;
    this.input.value = key;
    showMessage(this.message, '');
    if (!this.dialog.open) this.dialog.showModal();
    this.input.focus();
    this.input.select();
  }

  /** Closes the dialog and drops the key at once (the `close` event comes a task later). */
  close() {
    if (this.dialog.open) this.dialog.close();
    this.forget();
  }

  /** @private */
  forget() {
    this.input.value = '';
    this.owner.textContent = '';
    showMessage(this.message, '');
  }

  /**
   * Copies the key: the clipboard API where the browser allows it (secure
   * contexts), else the text is selected for Ctrl+C.
   * @private
   */
  async copy() {
    if (!navigator.clipboard?.writeText) {
      this.selectForCopy();
      return;
    }
    await navigator.clipboard.writeText(this.input.value);
    showMessage(this.message, 'Copied to the clipboard.', 'ok');
  }

  /** @private */
  selectForCopy() {
    this.input.focus();
    this.input.select();
    showMessage(this.message, 'The key is selected: press Ctrl+C (⌘C on a Mac) to copy it.', 'info');
  }
}
