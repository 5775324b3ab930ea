import { describe, expect, it } from '@jest/globals';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import Fastify from 'fastify';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAdminUiFiles, registerAdminUi } from './admin-ui.js';

/** A bare Fastify instance behind the one method `registerAdminUi` uses. */
function appOn(fastify: ReturnType<typeof Fastify>): NestFastifyApplication {
  return { getHttpAdapter: () => ({ getInstance: () => fastify }) } as unknown as NestFastifyApplication;
}

describe('loadAdminUiFiles', () => {
  it('holds the files of the served types only, by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'admin-ui-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html>');
    writeFileSync(join(dir, 'app.js'), 'export {};');
    writeFileSync(join(dir, 'tsconfig.json'), '{}');
    writeFileSync(join(dir, 'notes.md'), '# notes');
    const files = loadAdminUiFiles(dir);
    expect([...files.keys()].sort()).toEqual(['app.js', 'index.html']);
    expect(files.get('app.js')?.contentType).toBe('text/javascript; charset=utf-8');
  });

  it('is empty for a folder that does not exist', () => {
    expect(loadAdminUiFiles(join(tmpdir(), 'no-such-admin-ui-folder')).size).toBe(0);
  });
});

describe('registerAdminUi without its files', () => {
  it('answers 503 saying how to install them', async () => {
    const fastify = Fastify();
    registerAdminUi(appOn(fastify), join(tmpdir(), 'no-such-admin-ui-folder'));
    // Over HTTP: Fastify's inject() needs an ESM-only package Jest cannot require on Node 20.
    const base = await fastify.listen({ port: 0, host: '127.0.0.1' });
    try {
      for (const url of ['/admin/ui/', '/admin/ui/app.js']) {
        const answer = await fetch(`${base}${url}`);
        expect(answer.status).toBe(503);
        expect(((await answer.json()) as { message: string }).message).toContain('npm run build');
      }
    } finally {
      await fastify.close();
    }
  });
});
