import { Agent } from 'node:http';
import type { BenchContext } from '../support/context.js';
import { get } from '../support/http-get.js';
import { benchAccount } from '../support/module-app.js';
import { median, type PartResult } from '../support/report.js';
import { startSandbox } from '../support/sandbox.js';
import { waitHealthy, type ServerProcess } from '../support/server.js';
import { callersPerServer, startServers } from '../support/stampede-callers.js';

const SERVERS = 3;
const ACCOUNTS = 3;
const CALLERS = 1000;
/** The sandbox answers each fetch this late, so the first fetch is still in flight while callers pile up. */
const FETCH_DELAY_MS = 1000;

/**
 * 3. Cold stampede: 3 server processes start together on one empty
 * database; as soon as each listens, 1000 concurrent callers (spread over
 * the 3 servers and 3 accounts) ask for tokens. Counts the sandbox's
 * upstream fetches per account (goal: exactly 1) and checks every caller
 * got the same token per account. Several rounds, each on a new database.
 */
export async function stampede(ctx: BenchContext): Promise<PartResult> {
  const roundCount = ctx.quick ? 1 : 3;
  const rounds = [];
  for (let round = 0; round < roundCount; round++) rounds.push(await stampedeRound(ctx, round));
  const maxFetches = Math.max(...rounds.flatMap((r) => r.fetchesPerAccount));
  const minFetches = Math.min(...rounds.flatMap((r) => r.fetchesPerAccount));
  const duringFetch = rounds.filter((r) => r.callersDuringFetch).length;
  const startFailures = rounds.flatMap((r) => r.startFailures);
  const allAnswered = rounds.every(
    (r) => r.answeredWithToken === CALLERS && r.distinctTokensPerAccount.every((n) => n === 1),
  );
  const secondsToAnswerAll = median(rounds.map((r) => r.secondsToAnswerAll));
  return {
    figures: [
      {
        id: '3a',
        name: `cold stampede: fetches per account (${CALLERS} callers, ${SERVERS} servers, ${ACCOUNTS} accts)`,
        value: `${minFetches === maxFetches ? maxFetches : `${minFetches}-${maxFetches}`} per account, ${roundCount} rounds (${duringFetch} hit an in-flight fetch); ${rounds.map((r) => r.answeredWithToken).join('/')} answered, all in ${secondsToAnswerAll.toFixed(1)} s (median)${startFailures.length ? `; ${startFailures.length} server(s) did not start: "${startFailures[0].replace(/^.*?: (Failed to start: )?/, '').slice(0, 90)}"` : ''}`,
        baseline: `ceiling: 1 fetch/account (vs ${CALLERS} requests)`,
        goal: 'exactly 1, all answered',
        pass: maxFetches === 1 && minFetches === 1 && allAnswered && startFailures.length === 0,
      },
    ],
    raw: {
      servers: SERVERS,
      accounts: ACCOUNTS,
      callers: CALLERS,
      fetchDelayMs: FETCH_DELAY_MS,
      medianSecondsToAnswerAll: secondsToAnswerAll,
      rounds,
    },
  };
}

async function stampedeRound(ctx: BenchContext, round: number) {
  const accounts = Array.from({ length: ACCOUNTS }, benchAccount);
  const { sandbox, url: sandboxUrl, stop: stopSandbox } = await startSandbox({ accounts });
  sandbox.injectFault({ delayMs: FETCH_DELAY_MS, times: 1000 });
  const databaseUrl = await ctx.pg.createDatabase(`stampede${round}`);
  const servers: ServerProcess[] = [];
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  try {
    await startServers(
      ctx,
      'token server',
      SERVERS,
      { databaseUrl, accounts, apiBaseUrl: sandboxUrl },
      servers,
    );
    // Each server's callers fire as soon as that server listens.
    const started = Date.now();
    const startFailures: string[] = [];
    const accountOf = (i: number) => accounts[Math.floor(i / SERVERS) % ACCOUNTS];
    const answers = await callersPerServer(
      servers,
      CALLERS,
      () => (Date.now() - started) / 1000,
      async (server, i) => {
        const account = accountOf(i);
        const answer = await get(
          `${server.url}/cgi-bin/token?grant_type=client_credential&appid=${account.appId}&secret=${account.secret}`,
          agent,
        );
        return { appId: account.appId, ...answer };
      },
      (i) => ({ appId: accountOf(i).appId, status: 0, body: 'server did not start' }),
      startFailures,
    );
    const secondsToAnswerAll = Math.max(...answers.map((a) => a.answeredAfter));
    await Promise.all(servers.filter((_, i) => answers[i].alive).map((server) => waitHealthy(server)));
    const all = answers.flatMap((a) => a.results);
    const tokens = new Map<string, Set<string>>(accounts.map((a) => [a.appId, new Set()]));
    let answeredWithToken = 0;
    const otherAnswers = new Map<string, number>();
    for (const answer of all) {
      let token: string | undefined;
      try {
        token = (JSON.parse(answer.body) as { access_token?: string }).access_token;
      } catch {
        // counted below
      }
      if (answer.status === 200 && token) {
        answeredWithToken += 1;
        tokens.get(answer.appId)!.add(token);
      } else {
        const key = `${answer.status} ${answer.body.slice(0, 120)}`;
        otherAnswers.set(key, (otherAnswers.get(key) ?? 0) + 1);
      }
    }
    // When each account's fetch reached the sandbox (it answered FETCH_DELAY_MS later), vs when callers came.
    const log = sandbox.stats().log;
    const fetchArrivedAfter = accounts.map((a) => {
      const call = log.find((c) => c.appId === a.appId);
      return call ? (call.at - started) / 1000 : null;
    });
    const firstCallers = Math.min(...answers.filter((a) => a.alive).map((a) => a.listenedAfter));
    return {
      fetchesPerAccount: accounts.map((a) => sandbox.fetchCount(a.appId)),
      fetchArrivedAfterSeconds: fetchArrivedAfter,
      /** Whether callers were already asking while every account's fetch was still under way. */
      callersDuringFetch: fetchArrivedAfter.every(
        (at) => at !== null && firstCallers < at + FETCH_DELAY_MS / 1000,
      ),
      distinctTokensPerAccount: accounts.map((a) => tokens.get(a.appId)!.size),
      answeredWithToken,
      startFailures,
      otherAnswers: Object.fromEntries(otherAnswers),
      serversListenedAfterSeconds: answers.map((a) => a.listenedAfter),
      secondsToAnswerAll,
    };
  } finally {
    agent.destroy();
    await Promise.all(servers.map((server) => server.child.stop()));
    await stopSandbox();
  }
}
