import { Injectable } from '@nestjs/common';

/** The WeChat-compatible routes whose answers are counted: `/cgi-bin/token`, `/cgi-bin/stable_token`, `/cgi-bin/ticket/getticket`. */
export type ServedRoute = 'cgi_token' | 'cgi_stable_token' | 'cgi_getticket';

/** Every counted route, in the order `/metrics` lists them. */
export const SERVED_ROUTES: readonly ServedRoute[] = ['cgi_token', 'cgi_stable_token', 'cgi_getticket'];

/**
 * How many answers each WeChat-compatible route gave: tokens and tickets
 * handed out, and refusals by errcode. Counted as plain numbers on the
 * request path (`npm run bench` measures it): a token served costs one
 * increment, no allocation. prom-client's `inc(labels)` would hash the
 * labels at every call, so the metrics read these counts at scrape time.
 */
@Injectable()
export class ServedCounts {
  private readonly served: Record<ServedRoute, number> = {
    cgi_token: 0,
    cgi_stable_token: 0,
    cgi_getticket: 0,
  };
  /** Per route, errcode → answers. The errcodes are the routes' own few constants: the map stays small. */
  private readonly refused: Record<ServedRoute, Map<number, number>> = {
    cgi_token: new Map(),
    cgi_stable_token: new Map(),
    cgi_getticket: new Map(),
  };

  /** A token or ticket was handed out. */
  servedOne(route: ServedRoute): void {
    this.served[route]++;
  }

  /** The route answered WeChat's `errcode` instead. */
  refusedOne(route: ServedRoute, errcode: number): void {
    const counts = this.refused[route];
    counts.set(errcode, (counts.get(errcode) ?? 0) + 1);
  }

  /** Every count so far: `errcode` 0 for the tokens and tickets handed out (always listed, 0 included). */
  forEach(visit: (route: ServedRoute, errcode: number, count: number) => void): void {
    for (const route of SERVED_ROUTES) {
      visit(route, 0, this.served[route]);
      for (const [errcode, count] of this.refused[route]) visit(route, errcode, count);
    }
  }
}
