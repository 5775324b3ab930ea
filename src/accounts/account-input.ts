import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';
import {
  APP_ID_PATTERN,
  isTicketType,
  TICKET_TYPES,
  type TicketType,
  type TokenMode,
} from 'nestjs-wechat-token';
import { knownFields } from '../http/input-validation.js';
import type { AccountChange, NewAccount } from './account-registry.js';

/** Longest AppSecret accepted (WeChat's are 32 hex characters). */
export const SECRET_MAX_LENGTH = 128;

const ACCOUNT_FIELDS = new Set(['appId', 'secret', 'mode', 'tickets']);
const CHANGE_FIELDS = new Set(['secret', 'enabled', 'mode', 'tickets']);

/** What the account routes accept, in words: the 400s repeat it. */
const ACCOUNT_BODY =
  '{"appId": "wx…", "secret": "<AppSecret>", "mode": "token" | "stable", "tickets": ["jsapi", "wx_card"]} ' +
  '(mode and tickets optional)';
const CHANGE_BODY =
  'a JSON object with any of "secret" (the new AppSecret), "enabled" (true or false), "mode" ("token" or "stable") ' +
  'and "tickets" (["jsapi", "wx_card"], or [])';

/** Validates `POST /admin/accounts`: 400 naming the field otherwise (the secret is never echoed). */
@Injectable()
export class NewAccountPipe implements PipeTransform<unknown, NewAccount> {
  transform(body: unknown): NewAccount {
    const fields = knownFields(
      body,
      ACCOUNT_FIELDS,
      `The body must be ${ACCOUNT_BODY}.`,
      unknown(ACCOUNT_BODY),
    );
    const { appId } = fields;
    if (typeof appId !== 'string' || !APP_ID_PATTERN.test(appId)) {
      throw new BadRequestException(
        'appId must be the account\'s AppID: 1 to 64 letters, digits, "_" or "-" (WeChat\'s look like wx followed by 16 characters).',
      );
    }
    return {
      appId,
      secret: secret(fields.secret),
      mode: fields.mode === undefined ? 'token' : mode(fields.mode),
      tickets: fields.tickets === undefined ? [] : tickets(fields.tickets),
    };
  }
}

/** Validates `PATCH /admin/accounts/:appId`: at least one known field, each of the right type. */
@Injectable()
export class AccountChangePipe implements PipeTransform<unknown, AccountChange> {
  transform(body: unknown): AccountChange {
    const fields = knownFields(body, CHANGE_FIELDS, `The body must be ${CHANGE_BODY}.`, unknown(CHANGE_BODY));
    const change: AccountChange = {};
    if (fields.secret !== undefined) change.secret = secret(fields.secret);
    if (fields.mode !== undefined) change.mode = mode(fields.mode);
    if (fields.tickets !== undefined) change.tickets = tickets(fields.tickets);
    if (fields.enabled !== undefined) {
      if (typeof fields.enabled !== 'boolean')
        throw new BadRequestException('enabled must be true or false.');
      change.enabled = fields.enabled;
    }
    if (Object.keys(change).length === 0)
      throw new BadRequestException(`Nothing to change: send ${CHANGE_BODY}.`);
    return change;
  }
}

/** Which field is unknown is not said: a value pasted in the wrong place may be a secret. */
function unknown(shape: string): string {
  return `The body has a field an account does not have: send ${shape}.`;
}

function secret(value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.length > SECRET_MAX_LENGTH || /\s/.test(value)) {
    throw new BadRequestException(
      `secret must be the account's AppSecret: 1 to ${SECRET_MAX_LENGTH} characters without whitespace.`,
    );
  }
  return value;
}

function mode(value: unknown): TokenMode {
  if (value !== 'token' && value !== 'stable') {
    throw new BadRequestException(
      'mode must be "token" (GET /cgi-bin/token) or "stable" (POST /cgi-bin/stable_token).',
    );
  }
  return value;
}

function tickets(value: unknown): TicketType[] {
  if (!Array.isArray(value) || !value.every(isTicketType) || new Set(value).size !== value.length) {
    throw new BadRequestException(
      'tickets must be a list of distinct ticket types: "jsapi" (JS-SDK) and/or "wx_card" (cards), or [].',
    );
  }
  return TICKET_TYPES.filter((type) => value.includes(type));
}
