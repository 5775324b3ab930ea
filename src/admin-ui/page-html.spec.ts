import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';

// index.html checked as text: what the browser tests and the security rules
// ask of its markup, and that every element the scripts look up is there.

const dir = new URL('./public/', import.meta.url);
const html = readFileSync(new URL('index.html', dir), 'utf8');
const scripts = readdirSync(dir)
  .filter((name) => name.endsWith('.js'))
  .map((name) => ({ name, text: readFileSync(new URL(name, dir), 'utf8') }));

/** The opening tags of `tag` in the page, each as one string. */
const openingTags = (tag: string): string[] => html.match(new RegExp(`<${tag}\\b[^>]*>`, 'g')) ?? [];
/** The opening tag carrying `data-testid="testid"`. */
const withTestId = (testid: string): string | undefined =>
  html.match(new RegExp(`<[a-z]+\\b[^>]*data-testid="${testid}"[^>]*>`))?.[0];

describe('index.html', () => {
  it('gives every form method="post", so a form sent without the script never puts its fields in a URL', () => {
    const forms = openingTags('form');
    expect(forms.length).toBe(3);
    for (const form of forms) expect(form).toMatch(/\smethod="post"/);
  });

  it('leaves the admin key field without a name: it is never a form field that could be sent', () => {
    const input = withTestId('signin-key');
    expect(input).toMatch(/^<input\b/);
    expect(input).not.toMatch(/\sname=/);
    expect(input).toMatch(/type="password"/);
  });

  it('has the page-error banner for the tests to read', () => {
    expect(withTestId('page-error')).toMatch(/role="alert"/);
  });

  it('defines the hatch pattern once, and leaves the legend to the script', () => {
    expect(html.match(/id="timeline-hatch"/g)).toHaveLength(1);
    expect(html).toMatch(/<ul id="timeline-legend"[^>]*><\/ul>/);
    expect(html).not.toMatch(/class="mark\b/);
  });

  it('offers the ranges 1 h, 24 h, 7 d in that order', () => {
    const order = ['timeline-range-1h', 'timeline-range-24h', 'timeline-range-7d'].map((id) =>
      html.indexOf(`data-testid="${id}"`),
    );
    expect(order.every((at) => at > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('shows a new client key in a modal dialog of its own, outside every panel', () => {
    const dialog = html.slice(html.indexOf('<dialog\n      data-testid="client-key-dialog"'));
    expect(dialog.length).toBeLessThan(html.length);
    const body = dialog.slice(0, dialog.indexOf('</dialog>'));
    expect(body).toMatch(/data-testid="client-key"[^>]*readonly/);
    expect(body).toMatch(/data-testid="client-key-copy"/);
    expect(body).toMatch(/data-testid="client-key-close"[^>]*>I have copied it</);
    expect(html.indexOf('data-testid="client-key-dialog"')).toBeGreaterThan(html.indexOf('</main>'));
  });

  it('names the overlap in the refresh dialog in an element the script fills', () => {
    expect(html).toMatch(/<span id="refresh-overlap">about 5 minutes<\/span>/);
  });

  it('has every element the scripts look up by data-testid or id', () => {
    const missing: string[] = [];
    for (const { name, text } of scripts) {
      for (const [, testid] of text.matchAll(/byTestId\('([^']+)'\)/g)) {
        if (!html.includes(`data-testid="${testid}"`)) missing.push(`${name}: data-testid ${testid}`);
      }
      for (const [, id] of text.matchAll(/byId\('([^']+)'\)/g)) {
        if (!html.includes(`id="${id}"`)) missing.push(`${name}: #${id}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('the scripts', () => {
  it("never cancel the browser's own report of an error of the page (no preventDefault in those handlers)", () => {
    const cancelling = scripts.filter(({ text }) =>
      /addEventListener\('(error|unhandledrejection)'[\s\S]{0,200}preventDefault/.test(text),
    );
    expect(cancelling.map(({ name }) => name)).toEqual([]);
  });
});
