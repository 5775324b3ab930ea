import type { CredentialSpec, TicketType } from './credential.js';
import type { WechatApiClient } from './wechat-api.client.js';

/**
 * The access_token: `GET /cgi-bin/token`, or `POST /cgi-bin/stable_token`
 * for accounts in `stable` mode, whose life follows stable_token's rules.
 */
export function accessTokenSpec(api: WechatApiClient): CredentialSpec {
  return {
    kind: 'access_token',
    label: 'access_token',
    needsAccessToken: false,
    endpoint: (account) => (account.mode === 'stable' ? 'stable_token' : 'token'),
    lifeMode: (account) => account.mode,
    async fetch(account, { forceRefresh }) {
      const fetched =
        account.mode === 'stable'
          ? await api.fetchStableToken(account, forceRefresh)
          : await api.fetchToken(account);
      return { value: fetched.accessToken, expiresIn: fetched.expiresIn };
    },
  };
}

/**
 * A ticket: `GET /cgi-bin/ticket/getticket` with the account's access_token.
 * A new ticket leaves the one before it alive for the overlap and kills older
 * ones, as `/cgi-bin/token` does, so its life follows the `token` rules.
 */
export function ticketSpec(api: WechatApiClient, type: TicketType): CredentialSpec {
  return {
    kind: type,
    label: `${type} ticket`,
    needsAccessToken: true,
    endpoint: () => 'getticket',
    lifeMode: () => 'token',
    fetch(_account, { accessToken }) {
      if (accessToken === undefined) throw new TypeError('a ticket fetch needs an access_token');
      return api.fetchTicket(accessToken, type);
    },
  };
}
