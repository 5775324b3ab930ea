import { Agent } from 'node:http';
import type { TicketType } from 'nestjs-wechat-token';
import type { BenchContext } from '../support/context.js';
import { get, type Answer } from '../support/http-get.js';
import { benchAccount } from '../support/module-app.js';
import { sql } from '../support/postgres.js';
import { median, type PartResult } from '../support/report.js';
import { startSandbox } from '../support/sandbox.js';
import { waitHealthy, type ServerProcess } from '../support/server.js';
import { callersPerServer, startServers } from '../support/stampede-callers.js';

const SERVERS = 3;
const ACCOUNTS = 3;
const TYPES: readonly TicketType[] = ['jsapi', 'wx_card'];
const CALLERS = 1000;
/** The sandbox answers each token and getticket call this late, so callers pile up while the fetch is in flight. */
const FETCH_DELAY_MS = 1000;

/** What one caller got: the token it asked for first, then the ticket. */
interface CallerResult {
  appId: string;
  type: TicketType;
  /** The answer that ended its work: the ticket's, or the token's when that failed. */
  answer: Answer;
  ticket?: string;
  /** Seconds after the start when it sent its getticket request; NaN when it got no token. */
  askedTicketAfter: number;
}

/**
 * 3b. Cold ticket stampede: 3 server processes start together on one empty
 * database, every account keeping both tickets (`appId:secret:jsapi:wx_card`);
 * as soon as each listens, 1000 concurrent callers (spread over the 3 servers,
 * 3 accounts and 2 ticket types) do what an SDK does for `wx.config`: take
 * the token from `/cgi-bin/token`, then the ticket from
 * `/cgi-bin/ticket/getticket`. Counts the sandbox's getticket calls per
 * account and type (goal: exactly 1) beside its token fetches per account,
 * checks every caller got the same ticket per account and type, live at the
 * sandbox, and that the fetch log has one row per account and kind. Several
 * rounds, each on a new database.
 */
export async function ticketStampede(ctx: BenchContext): Promise<PartResult> {
  const roundCount = ctx.quick ? 1 : 3;
  const rounds = [];
  for (let round = 0; round < roundCount; round++) rounds.push(await ticketStampedeRound(ctx, round));
  const ticketCalls = rounds.flatMap((r) => Object.values(r.getticketCallsPerAccountAndType));
  const tokenFetches = rounds.flatMap((r) => r.tokenFetchesPerAccount);
  const range = (values: number[]) => {
    const min = Math.min(...values);
    const max = Math.max(...values);
    return min === max ? `${max}` : `${min}-${max}`;
  };
  const duringFetch = rounds.filter((r) => r.callersDuringTicketFetch).length;
  const startFailures = rounds.flatMap((r) => r.startFailures);
  const allAnswered = rounds.every(
    (r) =>
      r.answeredWithTicket === CALLERS &&
      Object.values(r.distinctTicketsPerAccountAndType).every((n) => n === 1) &&
      r.ticketsNotLive === 0,
  );
  const logRowsOk = rounds.every((r) => r.fetchLogRows.every((row) => row.rows === 1));
  const secondsToAnswerAll = median(rounds.map((r) => r.secondsToAnswerAll));
  return {
    figures: [
      {
        id: '3b',
        name: `cold ticket stampede: getticket calls per account and type (${CALLERS} callers, ${SERVERS} servers, ${ACCOUNTS} accts x ${TYPES.length} types)`,
        value: `${range(ticketCalls)} per account and type (token fetches ${range(tokenFetches)} per account), ${roundCount} rounds (${duringFetch} hit an in-flight getticket); ${rounds.map((r) => r.answeredWithTicket).join('/')} answered, all in ${secondsToAnswerAll.toFixed(1)} s (median)${startFailures.length ? `; ${startFailures.length} server(s) did not start: "${startFailures[0].replace(/^.*?: (Failed to start: )?/, '').slice(0, 90)}"` : ''}`,
        baseline: `ceiling: 1 getticket/account/type (vs ${CALLERS} requests)`,
        goal: 'exactly 1, all answered, 1 log row per kind',
        pass:
          Math.max(...ticketCalls, ...tokenFetches) === 1 &&
          Math.min(...ticketCalls, ...tokenFetches) === 1 &&
          allAnswered &&
          logRowsOk &&
          startFailures.length === 0,
      },
    ],
    raw: {
      servers: SERVERS,
      accounts: ACCOUNTS,
      types: TYPES,
      callers: CALLERS,
      fetchDelayMs: FETCH_DELAY_MS,
      medianSecondsToAnswerAll: secondsToAnswerAll,
      rounds,
    },
  };
}

async function ticketStampedeRound(ctx: BenchContext, round: number) {
  const accounts = Array.from({ length: ACCOUNTS }, () => ({ ...benchAccount(), tickets: TYPES }));
  const { sandbox, url: sandboxUrl, stop: stopSandbox } = await startSandbox({ accounts });
  sandbox.injectFault({ delayMs: FETCH_DELAY_MS, times: 1000 });
  sandbox.injectFault({ delayMs: FETCH_DELAY_MS, times: 1000, endpoint: 'getticket' });
  const databaseUrl = await ctx.pg.createDatabase(`tickets${round}`);
  const servers: ServerProcess[] = [];
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  try {
    await startServers(
      ctx,
      'ticket server',
      SERVERS,
      { databaseUrl, accounts, apiBaseUrl: sandboxUrl },
      servers,
    );
    const started = Date.now();
    const since = () => (Date.now() - started) / 1000;
    const startFailures: string[] = [];
    // Caller i goes to server i % 3, account (i / 3) % 3, type (i / 9) % 2: every combination gets callers.
    const accountOf = (i: number) => accounts[Math.floor(i / SERVERS) % ACCOUNTS];
    const typeOf = (i: number) => TYPES[Math.floor(i / (SERVERS * ACCOUNTS)) % TYPES.length];
    const answers = await callersPerServer(
      servers,
      CALLERS,
      since,
      async (server, i): Promise<CallerResult> => {
        const account = accountOf(i);
        const type = typeOf(i);
        const tokenAnswer = await get(
          `${server.url}/cgi-bin/token?grant_type=client_credential&appid=${account.appId}&secret=${account.secret}`,
          agent,
        );
        const accessToken = field(tokenAnswer, 'access_token');
        if (!accessToken) return { appId: account.appId, type, answer: tokenAnswer, askedTicketAfter: NaN };
        const askedTicketAfter = since();
        const answer = await get(
          `${server.url}/cgi-bin/ticket/getticket?access_token=${encodeURIComponent(accessToken)}&type=${type}`,
          agent,
        );
        return { appId: account.appId, type, answer, ticket: field(answer, 'ticket'), askedTicketAfter };
      },
      (i): CallerResult => ({
        appId: accountOf(i).appId,
        type: typeOf(i),
        answer: { status: 0, body: 'server did not start' },
        askedTicketAfter: NaN,
      }),
      startFailures,
    );
    const secondsToAnswerAll = Math.max(...answers.map((a) => a.answeredAfter));
    await Promise.all(servers.filter((_, i) => answers[i].alive).map((server) => waitHealthy(server)));

    const key = (appId: string, type: string) => `${appId}/${type}`;
    const tickets = new Map<string, Set<string>>(
      accounts.flatMap((a) => TYPES.map((type) => [key(a.appId, type), new Set<string>()] as const)),
    );
    let answeredWithTicket = 0;
    const otherAnswers = new Map<string, number>();
    for (const result of answers.flatMap((a) => a.results)) {
      if (result.answer.status === 200 && result.ticket) {
        answeredWithTicket += 1;
        tickets.get(key(result.appId, result.type))!.add(result.ticket);
      } else {
        const text = `${result.answer.status} ${result.answer.body.slice(0, 120)}`;
        otherAnswers.set(text, (otherAnswers.get(text) ?? 0) + 1);
      }
    }
    const ticketsNotLive = [...tickets.values()]
      .flatMap((set) => [...set])
      .filter((ticket) => sandbox.ticketState(ticket) !== 'live').length;

    // When each getticket call reached the sandbox (answered FETCH_DELAY_MS later), vs when callers asked.
    const log = sandbox.stats().tickets.log;
    const fetchArrivedAfter = Object.fromEntries(
      accounts.flatMap((a) =>
        TYPES.map((type) => {
          const call = log.find((c) => c.appId === a.appId && c.type === type);
          return [key(a.appId, type), call ? (call.at - started) / 1000 : null];
        }),
      ),
    );
    const firstAsks = answers
      .flatMap((a) => a.results)
      .map((r) => r.askedTicketAfter)
      .filter((at) => Number.isFinite(at));
    const firstAsk = firstAsks.length ? Math.min(...firstAsks) : Infinity;
    const fetchLogRows = await sql<{ app_id: string; kind: string; rows: number }>(
      databaseUrl,
      `SELECT app_id, kind, count(*)::int AS rows FROM token_fetch_attempt GROUP BY app_id, kind ORDER BY app_id, kind`,
    );
    return {
      getticketCallsPerAccountAndType: Object.fromEntries(
        accounts.flatMap((a) =>
          TYPES.map((type) => [key(a.appId, type), sandbox.ticketFetchCount(a.appId, type)]),
        ),
      ),
      tokenFetchesPerAccount: accounts.map((a) => sandbox.fetchCount(a.appId)),
      fetchArrivedAfterSeconds: fetchArrivedAfter,
      /** Whether callers were already asking for tickets while every getticket call was still under way. */
      callersDuringTicketFetch: Object.values(fetchArrivedAfter).every(
        (at) => at !== null && firstAsk < at + FETCH_DELAY_MS / 1000,
      ),
      firstTicketAskAfterSeconds: firstAsk,
      distinctTicketsPerAccountAndType: Object.fromEntries([...tickets].map(([k, set]) => [k, set.size])),
      ticketsNotLive,
      answeredWithTicket,
      /** `token_fetch_attempt` rows per account and kind: one token fetch and one getticket per ticket type. */
      fetchLogRows,
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

/** A string field of a JSON answer, if it has one. */
function field(answer: Answer, name: string): string | undefined {
  try {
    const value = (JSON.parse(answer.body) as Record<string, unknown>)[name];
    return typeof value === 'string' && value !== '' ? value : undefined;
  } catch {
    return undefined;
  }
}
