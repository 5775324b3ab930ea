// The only way this page builds DOM: elements with text set as textContent,
// never parsed from HTML (server data is never markup), and no inline style
// or event attributes (the Content-Security-Policy forbids them, and the
// guard here fails loudly during development instead of silently in the
// browser).

const SVG_NS = 'http://www.w3.org/2000/svg';

/** @typedef {string | number | boolean | null | undefined} AttrValue */
/** @typedef {Node | string | null | undefined | false} Child */

/**
 * @typedef {object} ElementProps
 * @property {string} [className]
 * @property {string} [text] textContent
 * @property {string} [testid] `data-testid`, the browser tests' handle
 * @property {Record<string, string>} [data] `data-*` attributes (camelCase keys, as `dataset`)
 * @property {Record<string, AttrValue>} [attrs] other attributes; false/null/undefined leave one out
 */

/**
 * @param {Element} element
 * @param {ElementProps} props
 * @param {Child[]} children
 */
function apply(element, props, children) {
  if (props.className) element.setAttribute('class', props.className);
  if (props.testid) element.setAttribute('data-testid', props.testid);
  if (props.data && element instanceof HTMLElement) Object.assign(element.dataset, props.data);
  if (props.data && !(element instanceof HTMLElement)) {
    for (const [key, value] of Object.entries(props.data)) {
      element.setAttribute(`data-${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, value);
    }
  }
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    if (/^on|^style$/i.test(name)) throw new Error(`refused attribute ${name}: the CSP forbids it`);
    if (value === false || value === null || value === undefined) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  if (props.text !== undefined) element.textContent = props.text;
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
}

/**
 * An HTML element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {ElementProps} [props]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  apply(element, props, children);
  return element;
}

/**
 * An SVG element (created in the SVG namespace, or the browser draws nothing).
 * @template {keyof SVGElementTagNameMap} K
 * @param {K} tag
 * @param {ElementProps} [props]
 * @param {...Child} children
 * @returns {SVGElementTagNameMap[K]}
 */
export function svg(tag, props = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  apply(element, props, children);
  return element;
}

/**
 * The element of the page with this `data-testid` (the ids the tests use
 * are the page's own handles too); throws when index.html lacks it, a bug
 * to see at once.
 * @template {Element} [T=HTMLElement]
 * @param {string} testid
 * @param {ParentNode} [root]
 * @returns {T}
 */
export function byTestId(testid, root = document) {
  const found = root.querySelector(`[data-testid="${testid}"]`);
  if (!found) throw new Error(`missing element ${testid}`);
  return /** @type {T} */ (/** @type {unknown} */ (found));
}

/**
 * The element with this id (index.html's structure), throwing when missing.
 * @template {Element} [T=HTMLElement]
 * @param {string} id
 * @returns {T}
 */
export function byId(id) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`missing element #${id}`);
  return /** @type {T} */ (/** @type {unknown} */ (found));
}

/**
 * Shows a message in a message line (role=status or alert) with its kind in
 * `data-kind` (the tests and the CSS read it); an empty text clears it. The
 * line itself stays in the page, empty and collapsed by the CSS: a live
 * region that appears together with its text is not always announced.
 * @param {HTMLElement} line
 * @param {string} text
 * @param {string} [kind]
 */
export function showMessage(line, text, kind = 'info') {
  line.textContent = text;
  if (text) line.dataset.kind = kind;
  else delete line.dataset.kind;
}

/**
 * Whether the focus is still where an action of `button` left it: on the
 * button itself (even removed from the page by a redraw of its list), or
 * nowhere (the body, where a removed element's focus falls). Anywhere else,
 * the admin has moved on and a redraw must not take the focus away.
 * @param {HTMLElement} button
 * @returns {boolean}
 */
export function focusWasLost(button) {
  const active = document.activeElement;
  return active === null || active === document.body || active === button;
}
