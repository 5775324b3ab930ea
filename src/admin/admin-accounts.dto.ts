import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { TICKET_TYPES, type TicketType, type TokenMode } from 'nestjs-wechat-token';
import type { AccountSettings, AccountSource } from '../accounts/account-registry.js';

// Shapes of the account settings routes, for the OpenAPI description.

/** An account's settings: never its secret. */
export class AccountSettingsDto implements AccountSettings {
  @ApiProperty({ example: 'wx1234567890abcdef' })
  appId!: string;
  @ApiProperty({ enum: ['token', 'stable'] })
  mode!: TokenMode;
  @ApiProperty({ enum: [...TICKET_TYPES], isArray: true })
  tickets!: TicketType[];
  @ApiProperty({
    description: 'A disabled account is neither refreshed nor served (40013); its history stays.',
  })
  enabled!: boolean;
  @ApiProperty({
    enum: ['env', 'api'],
    description: '`env`: from WECHAT_ACCOUNTS, changed only there; `api`: added through this API.',
  })
  source!: AccountSource;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

/** `POST /admin/accounts`. */
export class NewAccountDto {
  @ApiProperty({ example: 'wx1234567890abcdef' })
  appId!: string;
  @ApiProperty({ description: 'The AppSecret: sealed under SECRETS_KEY, never shown again.' })
  secret!: string;
  @ApiPropertyOptional({ enum: ['token', 'stable'], default: 'token' })
  mode?: TokenMode;
  @ApiPropertyOptional({ enum: [...TICKET_TYPES], isArray: true, default: [] })
  tickets?: TicketType[];
}

/** `PATCH /admin/accounts/:appId`: any of the fields. */
export class AccountChangeDto {
  @ApiPropertyOptional({
    description: 'A new AppSecret (after a reset at WeChat): used from the next fetch on.',
  })
  secret?: string;
  @ApiPropertyOptional({ description: 'false: stop refreshing and serving it; true: serve it again.' })
  enabled?: boolean;
  @ApiPropertyOptional({ enum: ['token', 'stable'] })
  mode?: TokenMode;
  @ApiPropertyOptional({ enum: [...TICKET_TYPES], isArray: true })
  tickets?: TicketType[];
}
