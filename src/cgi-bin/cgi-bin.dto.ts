import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

// WeChat's own shapes, for the OpenAPI description.

/** A token, as WeChat hands it out. */
export class WechatTokenAnswerDto {
  @ApiProperty({ example: '86_AbCd…' })
  access_token!: string;
  @ApiProperty({
    example: 6870,
    description:
      'Seconds the token is sure to work: not invalidated by WeChat before then (less than its full life).',
  })
  expires_in!: number;
}

/** A ticket, as WeChat's `getticket` hands it out. */
export class WechatTicketAnswerDto {
  @ApiProperty({ example: 0 })
  errcode!: number;
  @ApiProperty({ example: 'ok' })
  errmsg!: string;
  @ApiProperty({ example: 'kgt8ON7yVITDhtdwci0qeZ…' })
  ticket!: string;
  @ApiProperty({
    example: 6870,
    description:
      'Seconds the ticket is sure to work: not invalidated by WeChat before then (less than its full life).',
  })
  expires_in!: number;
}

/** WeChat's error answer (HTTP 200). */
export class WechatErrorAnswerDto {
  @ApiProperty({
    example: 40125,
    description:
      '/cgi-bin/token and stable_token: 40002, 40013, 40125, 40164, 41002, 41004, 43001, 43002, 45011, 47001 or -1; ' +
      'ticket/getticket: 40001, 40097, 40164, 41001, 43001, 48001 or -1; ' +
      'any /cgi-bin request: 40039 (URL too long), 40066 (no such path), 45002 (headers or body too large), ' +
      '47001 (malformed request)',
  })
  errcode!: number;
  @ApiProperty({ example: 'invalid appsecret rid: 5f386c70-441d34a9-7baebd7c' })
  errmsg!: string;
}

/** Body of `POST /cgi-bin/stable_token`. */
export class StableTokenRequestDto {
  @ApiProperty({ example: 'client_credential' })
  grant_type!: string;
  @ApiProperty({ example: 'wx1234567890abcdef' })
  appid!: string;
  @ApiProperty()
  secret!: string;
  @ApiPropertyOptional({
    default: false,
    description: 'true: a forced refresh (rate-limited per account, cluster-wide; refused with 45011).',
  })
  force_refresh?: boolean;
}
