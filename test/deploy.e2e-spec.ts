import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './support/cluster.js';
import { DEFAULT_WECHAT_PATH_PREFIXES } from '../src/passthrough/wechat-paths.js';
import { startServerFixture, waitForFirstTokens, type ServerFixture } from './support/server-fixture.js';

// Issue 13: the files under deploy/ work as the README says. nginx runs the
// shipped site in front of a real server (the Debian package `nginx-light`,
// which `.ci/run` installs); the Kubernetes probes answer on the server.

const ROOT = new URL('..', import.meta.url).pathname;
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find(
  (path) => spawnSync(path, ['-v'], { stdio: 'ignore' }).status === 0,
);
/** A developer's machine without nginx skips its part; CI installs nginx, so there it must run. */
const describeNginx = NGINX || process.env.CI === 'true' ? describe : describe.skip;

interface Answer {
  status: number;
  body: string;
}

/** A GET from the given local address (127.0.0.0/8 is all loopback on Linux). */
function getFrom(localAddress: string, url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** deploy/nginx/wechat-token.conf with its upstream and listen address pointed at this test's ports. */
function renderSite(serverPort: number, nginxPort: number): string {
  const site = readFileSync(join(ROOT, 'deploy/nginx/wechat-token.conf'), 'utf8');
  const rendered = site
    .replace('server 127.0.0.1:3000;', `server 127.0.0.1:${serverPort};`)
    .replace('listen 80;', `listen 127.0.0.1:${nginxPort};`);
  // The test relies on both replacements: a changed file must change this test too.
  expect(rendered).toContain(`127.0.0.1:${serverPort}`);
  expect(rendered).toContain(`listen 127.0.0.1:${nginxPort};`);
  return rendered;
}

describeNginx('deploy/nginx/wechat-token.conf in front of the server', () => {
  let fixture: ServerFixture;
  let nginx: ChildProcess | undefined;
  let dir: string;
  let nginxUrl: string;

  beforeAll(async () => {
    if (!NGINX) throw new Error('nginx is not installed: apt-get install -y nginx-light (.ci/run does)');
    // As the site's header says: nginx's address trusted, the clients' allowlisted.
    fixture = await startServerFixture({
      env: { TRUST_PROXY: '127.0.0.1/32', TOKEN_CLIENT_ALLOWLIST: '127.0.0.2/32' },
    });
    await waitForFirstTokens(fixture);
    const serverPort = Number(new URL(fixture.baseUrl).port);
    const nginxPort = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'wxtoken-nginx-'));
    // nginx's workers (user nobody under root) read the site and write their temp files here.
    chmodSync(dir, 0o777);
    writeFileSync(join(dir, 'site.conf'), renderSite(serverPort, nginxPort));
    writeFileSync(
      join(dir, 'nginx.conf'),
      [
        'daemon off;',
        'worker_processes 1;',
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log warn;`,
        'events { worker_connections 64; }',
        'http {',
        '  access_log off;',
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
          (kind) => `  ${kind}_temp_path ${dir}/${kind}_temp;`,
        ),
        `  include ${dir}/site.conf;`,
        '}',
      ].join('\n'),
    );
    const check = spawnSync(NGINX, ['-t', '-p', dir, '-c', `${dir}/nginx.conf`, '-e', `${dir}/error.log`], {
      encoding: 'utf8',
    });
    expect({ status: check.status, stderr: check.stderr }).toMatchObject({ status: 0 });
    nginx = spawn(NGINX, ['-p', dir, '-c', `${dir}/nginx.conf`, '-e', `${dir}/error.log`], {
      stdio: 'ignore',
    });
    nginxUrl = `http://127.0.0.1:${nginxPort}`;
    await waitFor(
      'nginx to proxy /health/live',
      async () =>
        (await getFrom('127.0.0.2', `${nginxUrl}/health/live`).catch(() => undefined))?.status === 200,
    );
  });

  let serverClosed = false;
  afterAll(async () => {
    nginx?.kill('SIGQUIT');
    if (!serverClosed) await fixture?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("lets an allowlisted client through with its own address, and ignores a client's forged X-Forwarded-For", async () => {
    const { appId, secret } = fixture.accounts[0];
    const tokenUrl = `${nginxUrl}/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret}`;

    const allowed = await getFrom('127.0.0.2', tokenUrl);
    expect(allowed.status).toBe(200);
    const token = (JSON.parse(allowed.body) as { access_token?: string }).access_token;
    expect(fixture.sandbox.tokenState(token ?? '')).toBe('live');

    // 127.0.0.3 is not allowlisted; naming 127.0.0.2 in its own header changes nothing.
    const forged = await getFrom('127.0.0.3', tokenUrl, { 'X-Forwarded-For': '127.0.0.2' });
    expect(JSON.parse(forged.body)).toMatchObject({ errcode: 40164 });
    expect(JSON.parse(forged.body).errmsg).toContain('127.0.0.3');
  });

  it("passes a WeChat API call through to WeChat, and lists the server's WeChat paths", async () => {
    const { appId, secret } = fixture.accounts[0];
    const tokenUrl = `${nginxUrl}/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret}`;
    const token = (JSON.parse((await getFrom('127.0.0.2', tokenUrl)).body) as { access_token: string })
      .access_token;
    const answer = await getFrom('127.0.0.2', `${nginxUrl}/cgi-bin/getcallbackip?access_token=${token}`);
    expect(JSON.parse(answer.body)).toHaveProperty('ip_list');

    // The site's one location for WeChat's paths names exactly the server's built-in prefixes.
    const site = readFileSync(join(ROOT, 'deploy/nginx/wechat-token.conf'), 'utf8');
    const listed = /location ~ \^\/\(([^)]+)\)/.exec(site)?.[1].split('|');
    expect(listed?.map((name) => `/${name}`)).toEqual(DEFAULT_WECHAT_PATH_PREFIXES);
  });

  it("answers WeChat's errcode -1 on /cgi-bin, not an HTML page, when no replica answers", async () => {
    const { appId, secret } = fixture.accounts[0];
    serverClosed = true;
    await fixture.close();
    const answer = await getFrom(
      '127.0.0.2',
      `${nginxUrl}/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret}`,
    );
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ errcode: -1 });
  });
});

describe('deploy/kubernetes/wechat-token.yaml', () => {
  let fixture: ServerFixture | undefined;
  afterAll(async () => {
    await fixture?.close();
  });

  it('probes a path the server answers with 200 without a key', async () => {
    const manifest = readFileSync(join(ROOT, 'deploy/kubernetes/wechat-token.yaml'), 'utf8');
    const paths = [...manifest.matchAll(/^\s+path: (\/\S+)$/gm)].map((match) => match[1]);
    // Every probe on liveness: readiness on /health/ready would take every pod out together (README).
    expect(new Set(paths)).toEqual(new Set(['/health/live']));
    fixture = await startServerFixture();
    await waitForFirstTokens(fixture);
    for (const path of paths) {
      // Kubernetes sends no key: the probes must not need one.
      expect({ path, status: (await fetch(`${fixture.baseUrl}${path}`)).status }).toEqual({
        path,
        status: 200,
      });
    }
  });
});
