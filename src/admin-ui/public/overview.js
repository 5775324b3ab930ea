// The overview's cards: one per account, in trouble order (errors, then
// warnings, then the rest), updated in place at every poll; and the refresh
// action behind each card's "Refresh…" button.

import { AccountCard } from './account-card.js';
import { failureOf } from './api.js';
import { askRefresh } from './dialogs.js';
import { actionFailed, refreshDone } from './outcomes.js';
import { failureMessage, reportBug } from './page-error.js';

/** @typedef {import('./types.js').AccountStatus} AccountStatus */
/** @typedef {import('./trouble.js').Trouble} Trouble */
/** @typedef {import('./api.js').Api} Api */

/**
 * @typedef {object} OverviewOptions
 * @property {HTMLElement} container where the cards go
 * @property {HTMLElement} empty shown when there is no account
 * @property {Api} api
 * @property {(appId: string) => void} afterAction re-read the overview and the timeline at once
 * @property {(appId: string) => void} showTimeline a card's "Timeline" button
 * @property {() => number | null} overlapSeconds WeChat's overlap as the last timeline answer gave it
 */

/** The cards of the overview. */
export class Overview {
  /** @param {OverviewOptions} options */
  constructor(options) {
    this.options = options;
    /** @type {Map<string, AccountCard>} */
    this.cards = new Map();
  }

  /**
   * Shows a new snapshot: updates the cards, adds and removes them, and
   * reorders them when the trouble order changed (keeping the focus where it was).
   * @param {{ account: AccountStatus, trouble: Trouble }[]} ordered the accounts in trouble order (orderByTrouble)
   * @param {number} snapshotMs the server's clock at the snapshot
   */
  render(ordered, snapshotMs) {
    const seen = new Set();
    for (const { account, trouble } of ordered) {
      seen.add(account.appId);
      let card = this.cards.get(account.appId);
      if (!card) {
        card = new AccountCard(account.appId, {
          refresh: (appId, button) => {
            this.refresh(appId, button).catch((error) => {
              reportBug(error);
              this.cards.get(appId)?.say(actionFailed(failureOf(error)), Date.now());
            });
          },
          timeline: (appId) => this.options.showTimeline(appId),
        });
        this.cards.set(account.appId, card);
      }
      card.update(account, trouble, snapshotMs);
    }
    for (const [appId, card] of this.cards) {
      if (!seen.has(appId)) {
        card.root.remove();
        this.cards.delete(appId);
      }
    }
    const roots = ordered.map(
      ({ account }) => /** @type {AccountCard} */ (this.cards.get(account.appId)).root,
    );
    const container = this.options.container;
    const inOrder =
      container.children.length === roots.length &&
      roots.every((root, index) => container.children[index] === root);
    if (!inOrder) {
      // Moving a node blurs it: give the focus back after the move.
      const active = document.activeElement;
      container.replaceChildren(...roots);
      if (active instanceof HTMLElement && active !== document.activeElement && active.isConnected) {
        active.focus({ preventScroll: true });
      }
    }
    this.options.empty.hidden = ordered.length > 0;
  }

  /**
   * Rewrites every countdown (every second).
   * @param {number} serverNowMs
   * @param {number} localNowMs
   */
  tick(serverNowMs, localNowMs) {
    for (const card of this.cards.values()) card.tick(serverNowMs, localNowMs);
  }

  /** Removes every card (sign-out). */
  clear() {
    this.cards.clear();
    this.options.container.replaceChildren();
    this.options.empty.hidden = true;
  }

  /**
   * "Refresh…": asks how (check at WeChat, or force a new token), sends it,
   * and says in the card what came of it.
   * @param {string} appId
   * @param {HTMLButtonElement} button
   */
  async refresh(appId, button) {
    const card = this.cards.get(appId);
    if (!card) return;
    if (card.busy) {
      card.say(
        { kind: 'info', text: 'A refresh of this account is still under way.', retry: null },
        Date.now(),
      );
      return;
    }
    const choice = await askRefresh(appId, button, this.options.overlapSeconds());
    if (!choice) return;
    card.busy = true;
    const asking = choice === 'force' ? 'Fetching a new token…' : 'Checking the token at WeChat…';
    card.say({ kind: 'info', text: asking, retry: null }, Date.now());
    try {
      const result = await this.options.api.post(
        `accounts/${encodeURIComponent(appId)}/refresh`,
        choice === 'force' ? { force: true } : {},
      );
      // Signed out meanwhile (clear() dropped the card): the answer belongs to a session that is over.
      if (this.cards.get(appId) !== card) return;
      card.say(refreshDone(result), Date.now());
    } catch (error) {
      // A refused key signs out: nothing to say in a card that is gone.
      const failure = failureMessage(error);
      if (failure && this.cards.get(appId) === card) card.say(failure, Date.now());
    } finally {
      card.busy = false;
    }
    this.options.afterAction(appId);
  }
}
