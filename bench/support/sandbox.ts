import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WechatSandbox, type SandboxAccount, type WechatSandboxOptions } from 'nestjs-wechat-token/testing';
import { onCleanup } from './cleanup.js';
import { Child } from './processes.js';

/** A WeChat sandbox in this process, stopped at the end of the run. */
export async function startSandbox(
  options: WechatSandboxOptions,
): Promise<{ sandbox: WechatSandbox; url: string; stop: () => Promise<void> }> {
  const sandbox = new WechatSandbox(options);
  const stop = onCleanup('WeChat sandbox', () => sandbox.stop());
  const url = await sandbox.start();
  return { sandbox, url, stop };
}

/**
 * A WeChat sandbox in its own process (the library's `wechat-sandbox` bin),
 * stopped at the end of the run: its CPU is then not this process's, and a
 * client on another process reaches it as the server under test does, over
 * loopback. Read it with its `/__sandbox/` control API.
 */
export async function startSandboxProcess(
  name: string,
  accounts: readonly SandboxAccount[],
): Promise<{ child: Child; url: string; stop: () => Promise<void> }> {
  const child = Child.node(
    name,
    // Beside the library's testing entry point, wherever the package is installed.
    join(dirname(fileURLToPath(import.meta.resolve('nestjs-wechat-token/testing'))), 'sandbox-main.js'),
    { env: { SANDBOX_ACCOUNTS: accounts.map((a) => `${a.appId}:${a.secret}`).join(',') } },
  );
  const url = (await child.waitForLine(/^http:\/\//, 20_000)).trim();
  return { child, url, stop: () => child.stop() };
}
