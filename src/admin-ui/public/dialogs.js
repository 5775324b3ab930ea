// The page's two modal questions, on native <dialog> elements opened with
// showModal(): the browser traps focus inside, Escape cancels, and the rest
// of the page is inert. Focus goes back to the button that asked.

import { byId, byTestId } from './dom.js';
import { overlapText } from './messages.js';

/**
 * Shows `dialog` modally until one of its `[data-choice]` buttons is pressed
 * (resolves with that choice) or it is cancelled with Escape or the cancel
 * button (resolves with null).
 * @param {HTMLDialogElement} dialog
 * @param {HTMLElement | null} opener focused again afterwards
 * @returns {Promise<string | null>}
 */
function ask(dialog, opener) {
  return new Promise((resolve) => {
    /** @param {Event} event */
    const onClick = (event) => {
      const button = event.target instanceof Element ? event.target.closest('button[data-choice]') : null;
      if (button instanceof HTMLButtonElement) dialog.close(button.dataset.choice);
    };
    const onClose = () => {
      dialog.removeEventListener('click', onClick);
      const choice = dialog.returnValue;
      if (opener?.isConnected) opener.focus();
      resolve(choice && choice !== 'cancel' ? choice : null);
    };
    dialog.addEventListener('click', onClick);
    dialog.addEventListener('close', onClose, { once: true });
    dialog.returnValue = '';
    dialog.showModal();
  });
}

/**
 * Asks how to refresh an account's token: "check" (at WeChat, replaced only
 * if rejected), "force" (a new one, unchecked), or null (cancelled).
 * @param {string} appId
 * @param {HTMLElement} opener
 * @param {number | null} overlapSeconds how long the old token keeps working (the server's
 *   overlapSeconds), null while no timeline answer told it
 * @returns {Promise<'check' | 'force' | null>}
 */
export async function askRefresh(appId, opener, overlapSeconds) {
  const dialog = byTestId('refresh-dialog');
  if (!(dialog instanceof HTMLDialogElement) || dialog.open) return null;
  byId('refresh-app-id').textContent = appId;
  byId('refresh-overlap').textContent = overlapText(overlapSeconds);
  const choice = await ask(dialog, opener);
  return choice === 'check' || choice === 'force' ? choice : null;
}

/**
 * Asks to confirm an action that cannot be taken back in one click
 * (disabling an account, revoking a client key): true when confirmed.
 * @param {{ title: string, text: string, confirm: string }} question
 * @param {HTMLElement} opener
 * @returns {Promise<boolean>}
 */
export async function confirmAction(question, opener) {
  const dialog = byTestId('confirm-dialog');
  if (!(dialog instanceof HTMLDialogElement) || dialog.open) return false;
  byId('confirm-title').textContent = question.title;
  byId('confirm-text').textContent = question.text;
  byTestId('confirm-ok').textContent = question.confirm;
  return (await ask(dialog, opener)) === 'ok';
}

/** Closes any open dialog without an answer (sign-out: nothing may stay on screen). */
export function closeDialogs() {
  for (const dialog of document.querySelectorAll('dialog')) {
    if (dialog.open) dialog.close();
  }
}
