import {
  ApiProperty,
  ApiPropertyOptional,
  type ApiParamOptions,
  type ApiPropertyOptions,
} from '@nestjs/swagger';
import type { CreatedTokenClient, TokenClient } from '../clients/token-client.js';
import { CLIENT_MAX_APP_IDS, CLIENT_MAX_CIDRS, CLIENT_NAME_MAX_LENGTH } from '../http/input-validation.js';

// Shapes of /admin/clients, for the OpenAPI description. They mirror the
// service's types (`implements`), so the two cannot drift apart.

/** The `:id` path parameter of the client routes. */
export const CLIENT_ID_PARAM: ApiParamOptions = {
  name: 'id',
  description: 'The id POST /admin/clients answered (also the number in the key: `wtc_<id>_…`).',
  example: 1,
};

const NAME: ApiPropertyOptions = {
  example: 'billing-service',
  description: `Unique; 1–${CLIENT_NAME_MAX_LENGTH} characters, no control characters (trimmed).`,
};
const APP_IDS: ApiPropertyOptions = {
  type: [String],
  example: ['wx1234567890abcdef'],
  description:
    `The accounts whose token the key may take (1–${CLIENT_MAX_APP_IDS}); another appId gets 40125. ` +
    'An appId that is not an account yet is accepted (40013 until it is).',
};
const CIDRS: ApiPropertyOptions = {
  type: [String],
  example: ['10.1.0.0/16'],
  description:
    `Networks the key may be used from (at most ${CLIENT_MAX_CIDRS}), inside TOKEN_CLIENT_ALLOWLIST, which is ` +
    'checked first; elsewhere 40164. Empty: TOKEN_CLIENT_ALLOWLIST alone. A single address is stored as /32 or /128.',
};

/** Body of `POST /admin/clients`. */
export class CreateClientRequestDto {
  @ApiProperty(NAME)
  name!: string;
  @ApiProperty(APP_IDS)
  appIds!: string[];
  @ApiPropertyOptional({ ...CIDRS, default: [] })
  cidrs?: string[];
}

/** Body of `PATCH /admin/clients/:id`: the fields to change (at least one). */
export class UpdateClientRequestDto {
  @ApiPropertyOptional(NAME)
  name?: string;
  @ApiPropertyOptional(APP_IDS)
  appIds?: string[];
  @ApiPropertyOptional(CIDRS)
  cidrs?: string[];
  @ApiPropertyOptional({
    description: 'false: the key is refused (as DELETE does); true: it works again.',
  })
  enabled?: boolean;
}

/** A client, as every route but its creation shows it: never its key. */
export class TokenClientDto implements TokenClient {
  @ApiProperty({ example: 1 })
  id!: number;
  @ApiProperty(NAME)
  name!: string;
  @ApiProperty(APP_IDS)
  appIds!: string[];
  @ApiProperty(CIDRS)
  cidrs!: string[];
  @ApiProperty({ description: 'false once revoked: the key is refused on every replica within 2 s.' })
  enabled!: boolean;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
  @ApiProperty({
    type: 'string',
    format: 'date-time',
    nullable: true,
    description: 'When the key last got a token (written every few seconds, not per request).',
  })
  lastUsedAt!: string | null;
}

/** A new client, with its key: shown this once, kept nowhere (only a salted hash of it is stored). */
export class CreatedTokenClientDto extends TokenClientDto implements CreatedTokenClient {
  @ApiProperty({
    example: 'wtc_1_RXhhbXBsZU9ubHktTm90LUEtUmVhbC1LZXktMDEyMzQ',
    description:
      'Send it as `secret` to /cgi-bin/token or /cgi-bin/stable_token, instead of the AppSecret. ' +
      'Shown only in this answer: a lost key cannot be read back; create another client and revoke this one.',
  })
  key!: string;
}
