import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServerFixture, type ServerFixture } from './support/server-fixture.js';
import { sendWechat } from './support/wechat-http.js';

// The pass-through sends AppSecrets and tokens to WECHAT_API_BASE_URL: over
// https, the certificate must be checked (reply-from turns undici's checks
// off unless told otherwise). A WeChat with a self-signed certificate gets
// nothing.
describe('pass-through over TLS', () => {
  let dir: string;
  let impostor: Server;
  let received = 0;
  let fixture: ServerFixture;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wxtoken-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    impostor = createServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      (_request, response) => {
        received++;
        response.setHeader('content-type', 'application/json');
        response.end('{"openid":"from-the-impostor","session_key":"x"}');
      },
    );
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    const { port } = impostor.address() as AddressInfo;
    fixture = await startServerFixture({ env: { WECHAT_API_BASE_URL: `https://127.0.0.1:${port}` } });
  });

  afterAll(async () => {
    await fixture?.close();
    await new Promise((resolve) => impostor?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a certificate it cannot verify: -1, and nothing reaches the server behind it', async () => {
    const { appId, secret } = fixture.accounts[0];
    const answer = await sendWechat(
      `${fixture.baseUrl}/sns/jscode2session?appid=${appId}&secret=${secret}&js_code=c&grant_type=authorization_code`,
    );
    expect(answer.body).toMatchObject({ errcode: -1 });
    expect(answer.text).not.toContain('from-the-impostor');
    expect(answer.text).not.toContain(secret);
    expect(received).toBe(0);
  });
});
