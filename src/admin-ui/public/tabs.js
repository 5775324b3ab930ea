// The Overview / Manage / Audit switch, as the WAI-ARIA tabs pattern: one tab
// stop for the tab list (the selected tab), arrow keys, Home and End move
// between tabs and select them, each tab shows its panel.

/**
 * Wires the tab list and calls `onChange(panelId)` whenever another tab is
 * selected (by click or keyboard).
 * @param {HTMLElement} tablist the element with role=tablist
 * @param {(panelId: string) => void} onChange
 * @returns {{ select: (panelId: string) => void, selected: () => string }}
 */
export function setupTabs(tablist, onChange) {
  const tabs = [...tablist.querySelectorAll('[role="tab"]')].filter(
    (tab) => tab instanceof HTMLButtonElement,
  );
  let current = '';

  /** @param {HTMLButtonElement} tab */
  const panelOf = (tab) => tab.getAttribute('aria-controls') ?? '';

  /**
   * @param {string} panelId
   * @param {boolean} focus
   */
  function select(panelId, focus) {
    for (const tab of tabs) {
      const selected = panelOf(tab) === panelId;
      tab.setAttribute('aria-selected', String(selected));
      tab.tabIndex = selected ? 0 : -1;
      const panel = document.getElementById(panelOf(tab));
      if (panel) panel.hidden = !selected;
      if (selected && focus) tab.focus();
    }
    if (panelId !== current) {
      current = panelId;
      onChange(panelId);
    }
  }

  tablist.addEventListener('click', (event) => {
    const tab = event.target instanceof Element ? event.target.closest('[role="tab"]') : null;
    if (tab instanceof HTMLButtonElement) select(panelOf(tab), false);
  });
  tablist.addEventListener('keydown', (event) => {
    const index = tabs.findIndex((tab) => tab === document.activeElement);
    if (index === -1) return;
    const moves = /** @type {Record<string, number>} */ ({
      ArrowRight: index + 1,
      ArrowLeft: index - 1,
      Home: 0,
      End: tabs.length - 1,
    });
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = tabs[(moves[event.key] + tabs.length) % tabs.length];
    select(panelOf(next), true);
  });

  return {
    select: (panelId) => select(panelId, false),
    selected: () => current,
  };
}
