import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { ADMIN_UI_DIR } from '../src/admin-ui/admin-ui.js';
import { startServerFixture, type ServerFixture } from './support/server-fixture.js';

// The admin page's files as the server sends them: where, with which type,
// under which headers; and nothing else from the folder or the disk.

/** The CSP directives of an answer, by name. */
function cspOf(response: Response): Map<string, string> {
  const header = response.headers.get('content-security-policy') ?? '';
  return new Map(
    header
      .split(';')
      .map((part) => part.trim())
      .filter(Boolean)
      .map((part) => [part.split(/\s+/)[0], part.slice(part.indexOf(' ') + 1)] as [string, string]),
  );
}

describe('the admin page at /admin/ui/', () => {
  let fixture: ServerFixture;
  beforeAll(async () => {
    fixture = await startServerFixture();
  });
  afterAll(() => fixture?.close());

  const get = (path: string, init?: RequestInit) =>
    fetch(`${fixture.baseUrl}${path}`, { redirect: 'manual', ...init });

  it('redirects /admin/ui to /admin/ui/ with a relative Location (a proxy prefix stays)', async () => {
    const response = await get('/admin/ui');
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('ui/');
  });

  it('sends index.html without a key, under a strict CSP, never framed or cached', async () => {
    const response = await get('/admin/ui/');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await response.text();
    expect(html).toMatch(/<script type="module" src="app\.js"><\/script>/);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/\sstyle=/i);

    const csp = cspOf(response);
    expect(Object.fromEntries(csp)).toEqual({
      'default-src': "'none'",
      'script-src': "'self'",
      'style-src': "'self'",
      'img-src': "'self' data:",
      'connect-src': "'self'",
      'font-src': "'self'",
      'manifest-src': "'self'",
      'base-uri': "'none'",
      'form-action': "'none'",
      'frame-ancestors': "'none'",
    });
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(response.headers.get('strict-transport-security')).toBeNull();
  });

  it.each(['/%61dmin/ui/', '/admin/%75i/', '/admin/ui/%61pp.js', '/admin/ui/?x=1'])(
    'sends %s, which reaches the page too, under the same headers',
    async (path) => {
      const response = await get(path);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-security-policy')).toContain("form-action 'none'");
      expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
    },
  );

  it('sends every file of the page with its type, and HEAD too', async () => {
    const served = readdirSync(ADMIN_UI_DIR).filter((name) => /\.(html|js|css|svg)$/.test(name));
    expect(served).toEqual(expect.arrayContaining(['index.html', 'app.js', 'styles.css', 'favicon.svg']));
    const types: Record<string, string> = {
      html: 'text/html; charset=utf-8',
      js: 'text/javascript; charset=utf-8',
      css: 'text/css; charset=utf-8',
      svg: 'image/svg+xml',
    };
    for (const name of served) {
      const response = await get(`/admin/ui/${name}`);
      expect([name, response.status]).toEqual([name, 200]);
      expect(response.headers.get('content-type')).toBe(types[name.split('.').pop()!]);
      expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
    const head = await get('/admin/ui/app.js', { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it.each([
    '/admin/ui/tsconfig.json',
    '/admin/ui/missing.js',
    '/admin/ui/%2e%2e%2fpackage.json',
    '/admin/ui/..%2f..%2f..%2fpackage.json',
    '/admin/ui/public/app.js',
  ])('answers %s with the JSON 404 of an unknown route', async (path) => {
    const response = await get(path);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ statusCode: 404, error: 'Not Found' });
  });

  it('keeps the API headers on the admin API beside it', async () => {
    const response = await get('/admin/accounts', {
      headers: { authorization: `Bearer ${fixture.adminToken}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toBe(
      "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    expect((await get('/admin/uix')).headers.get('content-security-policy')).toBe(
      "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
  });
});

describe('ADMIN_UI=false', () => {
  let fixture: ServerFixture;
  beforeAll(async () => {
    fixture = await startServerFixture({ env: { ADMIN_UI: 'false' } });
  });
  afterAll(() => fixture?.close());

  it('serves no page: /admin/ui and its files are unknown routes', async () => {
    for (const path of ['/admin/ui', '/admin/ui/', '/admin/ui/app.js']) {
      const response = await fetch(`${fixture.baseUrl}${path}`, { redirect: 'manual' });
      expect([path, response.status]).toEqual([path, 404]);
    }
  });
});
