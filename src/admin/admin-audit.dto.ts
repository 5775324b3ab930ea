import { ApiProperty } from '@nestjs/swagger';
import type { AuditAction, AuditPage, AuditRecord } from '../audit/audit-log.js';

// Shapes of GET /admin/audit, for the OpenAPI description; they implement the
// reader's types so the two cannot drift apart.

const AUDIT_ACTIONS: AuditAction[] = [
  'account.create',
  'account.update',
  'account.disable',
  'client.create',
  'client.update',
  'client.revoke',
  'token.refresh',
  'ticket.refresh',
  'secrets.rotate',
];

/** One admin write. */
export class AuditRecordDto implements AuditRecord {
  @ApiProperty({ example: '42' })
  id!: string;
  @ApiProperty({ format: 'date-time', description: "The database's clock at the write." })
  at!: string;
  @ApiProperty({
    example: 'ops-2025',
    description: 'The name of the admin key used: `ADMIN_TOKEN`, or a name of `ADMIN_TOKENS`.',
  })
  adminKeyName!: string;
  @ApiProperty({
    example: '10.0.3.7',
    description: 'The client as the server sees it (X-Forwarded-For from TRUST_PROXY peers only).',
  })
  clientIp!: string;
  @ApiProperty({ enum: AUDIT_ACTIONS })
  action!: AuditAction;
  @ApiProperty({
    example: 'wx1234567890abcdef',
    description: 'What it was done to: an appId, a client id, `appId/jsapi`…',
  })
  target!: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { force: true, staleTokenGiven: false, outcome: 'fetched', tokenId: '42' },
    description:
      'What was asked and what changed: field names, booleans, codes, row ids; never a secret, key or token. ' +
      'A forced refresh records `outcome` (`fetched`, `still_works`, `already_replaced`, `unchanged`; ' +
      '`refused` with the `reason` or `error` code when nothing was sent to WeChat; `failed` with the `error` ' +
      'code, and `errcode` when WeChat answered one).',
  })
  details!: Record<string, unknown>;
}

/** One page of the audit, newest first. */
export class AuditPageDto implements AuditPage {
  @ApiProperty({ type: [AuditRecordDto] })
  items!: AuditRecordDto[];
  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'Pass as `before` for the next (older) page; null on the last.',
  })
  nextBefore!: string | null;
}
