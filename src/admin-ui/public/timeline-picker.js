// The timeline's account picker: which options it lists and which account
// it shows. The overview orders accounts by trouble, and that order changes
// while an account is in trouble; the picker lists them by appId, so it is
// rebuilt only when the set of accounts changes (a rebuilt <select> closes
// under the pointer and loses the keyboard's place). No DOM here
// (timeline-picker.spec.ts).

/**
 * The picker's options for these accounts: their appIds, sorted, once each.
 * @param {string[]} appIds in any order (the overview's)
 * @returns {string[]}
 */
export function pickerOptions(appIds) {
  return [...new Set(appIds)].sort();
}

/**
 * Whether the picker must be rebuilt: the accounts are not the ones it lists.
 * @param {string[]} listed the picker's options now
 * @param {string[]} appIds the accounts of the last poll, in any order
 * @returns {boolean}
 */
export function pickerChanged(listed, appIds) {
  const wanted = pickerOptions(appIds);
  return wanted.length !== listed.length || wanted.some((id, index) => id !== listed[index]);
}

/**
 * The account to show: the one shown while it still exists, else the one in
 * most trouble (the first of the overview's order), else none.
 * @param {string | null} shown
 * @param {string[]} ordered the accounts, in the overview's (trouble) order
 * @returns {string | null}
 */
export function accountToShow(shown, ordered) {
  if (shown !== null && ordered.includes(shown)) return shown;
  return ordered[0] ?? null;
}
