import { ApiProperty } from '@nestjs/swagger';
import { USAGE_OVERFLOW_IP } from '../passthrough/passthrough-usage.js';
import type { PassthroughUsageRow } from '../passthrough/passthrough-usage-report.js';

// Shape of GET /admin/passthrough, for the OpenAPI description; it implements
// the report's type so the two cannot drift apart.

/** One client's use of the pass-through on one day. */
export class PassthroughUsageRowDto implements PassthroughUsageRow {
  @ApiProperty({
    example: '2025-06-01',
    description: 'The day in Asia/Shanghai (WeChat counts its quotas by it).',
  })
  day!: string;
  @ApiProperty({
    example: '10.0.3.7',
    description:
      'The client as the server sees it (X-Forwarded-For from TRUST_PROXY peers only). ' +
      `"${USAGE_OVERFLOW_IP}": calls counted together while too many counts waited to be written (the database down).`,
  })
  clientIp!: string;
  @ApiProperty({
    type: 'integer',
    nullable: true,
    example: 3,
    description: 'The client whose key the call carried (as `secret`); null without one.',
  })
  clientId!: number | null;
  @ApiProperty({ type: 'string', nullable: true, example: 'billing-service' })
  clientName!: string | null;
  @ApiProperty({
    type: 'string',
    nullable: true,
    example: 'wx1234567890abcdef',
    description: 'The account called for; null when the center could not tell (a call refused early).',
  })
  appId!: string | null;
  @ApiProperty({ example: 120, description: "Calls passed to WeChat, and WeChat's answer passed back." })
  forwarded!: number;
  @ApiProperty({
    example: 2,
    description:
      'Calls whose access_token (one the center issued, since replaced) was swapped for the current one before they went on.',
  })
  healed!: number;
  @ApiProperty({
    example: 1,
    description: 'Calls WeChat refused as a stale token, replayed once with the new token.',
  })
  replayed!: number;
  @ApiProperty({
    example: 4,
    description: 'Calls answered by the center without reaching WeChat (40001, 40013, 40125, 40164…).',
  })
  refused!: number;
  @ApiProperty({
    format: 'date-time',
    description: "The first call of the day counted (the replica's clock).",
  })
  firstAt!: string;
  @ApiProperty({ format: 'date-time', description: 'The last call of the day counted.' })
  lastAt!: string;
}
