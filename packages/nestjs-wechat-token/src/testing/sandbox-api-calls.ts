import { BoundedLog } from './sandbox-bounded-log.js';
import type { SandboxApiCall, SandboxApiCallsReport, SandboxRecordedHeader } from './wechat-sandbox.types.js';

/** The log keeps this many calls, so a sandbox left running (the demo, a bench) does not grow forever. */
const LOG_LIMIT = 10_000;

/** The headers a record keeps: those a pass-through must set, rewrite or drop. */
const RECORDED_HEADERS: ReadonlySet<string> = new Set<SandboxRecordedHeader>([
  'host',
  'content-type',
  'content-length',
  'transfer-encoding',
  'connection',
  'user-agent',
  'x-forwarded-for',
  'authorization',
  'cookie',
]);

/** Who a WeChat API call is for, as known when it arrives. */
export interface ApiCaller {
  /** The `access_token` query parameter as received. */
  token: string | null;
  /** The account of that token, or the appid sent; `null` when unknown. */
  appId: string | null;
}

/** Counts the WeChat API calls and keeps the most recent ones. */
export class SandboxApiCallLog {
  private total = 0;
  private readonly log = new BoundedLog<SandboxApiCall>(LOG_LIMIT);

  /** Records a call as soon as it arrives (before any delay), so in-flight calls are visible. */
  begin(
    at: number,
    method: string,
    path: string,
    caller: ApiCaller,
    rawHeaders: readonly string[],
  ): SandboxApiCall {
    const call: SandboxApiCall = {
      at,
      method,
      path,
      appId: caller.appId,
      accessToken: caller.token,
      errcode: null,
      httpStatus: null,
      faulted: false,
      dropped: false,
      headers: pickHeaders(rawHeaders),
    };
    this.total += 1;
    this.log.push(call);
    return call;
  }

  /** Records how a call was answered. */
  finish(call: SandboxApiCall, httpStatus: number, errcode: number | null, faulted: boolean): void {
    call.httpStatus = httpStatus;
    call.errcode = errcode;
    call.faulted = faulted;
  }

  /** Records a call that was handled but whose connection was cut instead of answered. */
  drop(call: SandboxApiCall, errcode: number | null): void {
    call.errcode = errcode;
    call.faulted = true;
    call.dropped = true;
  }

  /** Calls received since construction or `clear()`. */
  get count(): number {
    return this.total;
  }

  /** The most recent calls, oldest first (copies). */
  calls(): SandboxApiCall[] {
    return structuredClone(this.log.toArray());
  }

  /** The count and the calls, as `GET /__sandbox/api-calls` sends them. */
  report(): SandboxApiCallsReport {
    return { count: this.total, calls: this.calls() };
  }

  /** Zeroes the count and empties the log. */
  clear(): void {
    this.total = 0;
    this.log.clear();
  }
}

/**
 * The recorded headers from the raw list (name, value, name, value…): cheaper
 * than `req.headers`, which Node builds on first use. Repeated ones are
 * joined as Node joins them (cookies with "; ").
 */
function pickHeaders(rawHeaders: readonly string[]): SandboxApiCall['headers'] {
  const picked: SandboxApiCall['headers'] = {};
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = rawHeaders[index].toLowerCase();
    if (!RECORDED_HEADERS.has(name)) continue;
    const header = name as SandboxRecordedHeader;
    const before = picked[header];
    const value = rawHeaders[index + 1];
    picked[header] = before === undefined ? value : `${before}${header === 'cookie' ? '; ' : ', '}${value}`;
  }
  return picked;
}
