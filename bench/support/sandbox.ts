import { WechatSandbox, type WechatSandboxOptions } from 'nestjs-wechat-token/testing';
import { onCleanup } from './cleanup.js';

/** A WeChat sandbox in this process, stopped at the end of the run. */
export async function startSandbox(
  options: WechatSandboxOptions,
): Promise<{ sandbox: WechatSandbox; url: string; stop: () => Promise<void> }> {
  const sandbox = new WechatSandbox(options);
  const stop = onCleanup('WeChat sandbox', () => sandbox.stop());
  const url = await sandbox.start();
  return { sandbox, url, stop };
}
