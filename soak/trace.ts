import { mask } from 'nestjs-wechat-token';
import type { WechatSandbox } from 'nestjs-wechat-token/testing';
import { endpointOf, type SoakAccount } from './accounts.js';
import type { DatabaseProbe } from './database-probe.js';
import type { ReplicaSet } from './replicas.js';
import type { Timeline } from './timeline.js';

/**
 * `--trace`: each account's upstream story after the run, in time order:
 * the calls the sandbox received, the fetch-log rows and the token rows the
 * replicas wrote, and when the sandbox says each stored token died. The
 * timeline's chaos lines and this are usually enough to see why a token died
 * early.
 */
export async function printTrace(
  accounts: SoakAccount[],
  sandbox: WechatSandbox,
  probe: DatabaseProbe,
  replicas: ReplicaSet,
  timeline: Timeline,
): Promise<void> {
  const replicaOf = (instanceId: string | null) => {
    const pid = Number(instanceId?.split(':').at(-1));
    return replicas.incarnations.find((incarnation) => incarnation.pid === pid)?.name ?? instanceId ?? '?';
  };
  const seconds = (ms: number) => timeline.offset(ms).trim();
  for (const account of accounts) {
    const lines: { at: number; text: string }[] = [];
    for (const call of sandbox.stats().log) {
      if (call.appId !== account.appId || call.endpoint !== endpointOf(account)) continue;
      const result = call.dropped
        ? `handled (errcode ${call.errcode}), connection cut`
        : call.httpStatus === null
          ? 'never answered (the sandbox stopped first)'
          : `answered HTTP ${call.httpStatus}, errcode ${call.errcode ?? 'none'}`;
      lines.push({ at: call.at, text: `sandbox  call ${result}${call.faulted ? ' [fault]' : ''}` });
    }
    const { attempts, tokens } = await probe.story(account.appId);
    for (const row of attempts) {
      const at = new Date(row.attemptedAt).getTime();
      lines.push({
        at,
        text: `log      ${replicaOf(row.instanceId)}: outcome ${row.outcome ?? 'NULL'}${row.errcode === null ? '' : ` ${row.errcode}`}, ${row.latencyMs ?? '?'} ms`,
      });
    }
    for (const row of tokens) {
      const life = sandbox.tokenLife(row.token);
      const death = life ? Math.min(life.diesAt, life.expiresAt) : undefined;
      lines.push({
        at: new Date(row.fetchedAt).getTime(),
        text:
          `stored   #${row.id} ${mask(row.token)} by ${replicaOf(row.instanceId)} (${row.source}), ` +
          `expires_at ${seconds(new Date(row.expiresAt).getTime())}; sandbox: ` +
          (life
            ? `issued ${seconds(life.issuedAt)}, dies ${death === undefined || !Number.isFinite(death) ? '-' : seconds(death)}`
            : 'never issued'),
      });
    }
    console.log(`\ntrace of the ${account.mode} account (${account.appId}):`);
    for (const line of lines.sort((a, b) => a.at - b.at)) console.log(`  [${seconds(line.at)}] ${line.text}`);
  }
}
