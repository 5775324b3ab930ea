// Where the admin key lives while signed in: this tab's sessionStorage only.
// Not localStorage (it would outlive the tab and be shared by every tab), not
// a cookie (it would ride along on every request and invite CSRF), never in
// a URL (it would land in history and logs).

const KEY_NAME = 'wechat-token-admin-key';

/** The key in memory too, for a browser that refuses storage (then a reload signs out). */
let current = /** @type {string | null} */ (null);

/**
 * The key of this tab's session, or null when signed out.
 * @returns {string | null}
 */
export function storedKey() {
  if (current !== null) return current;
  try {
    current = sessionStorage.getItem(KEY_NAME);
  } catch {
    current = null;
  }
  return current;
}

/**
 * Keeps the key for this tab (a reload stays signed in; a new tab does not).
 * @param {string} key
 */
export function storeKey(key) {
  current = key;
  try {
    sessionStorage.setItem(KEY_NAME, key);
  } catch {
    // Storage refused (a private mode's quota): the key lives in memory only.
  }
}

/** Forgets the key (sign out, or a key the server refused). */
export function forgetKey() {
  current = null;
  try {
    sessionStorage.removeItem(KEY_NAME);
  } catch {
    // Nothing stored, nothing to forget.
  }
}
