import {
  Body,
  ConflictException,
  Controller,
  Delete,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Patch,
  Post,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
} from '@nestjs/swagger';
import type { AdminActor } from '../audit/audit-log.js';
import { ClientAdminService, UnknownClientError } from '../clients/client-admin.service.js';
import { ClientNameTakenError } from '../clients/client-repository.js';
import type {
  CreatedTokenClient,
  NewTokenClient,
  TokenClient,
  TokenClientChange,
} from '../clients/token-client.js';
import { HTTP_MESSAGES } from '../http/http-messages.js';
import { ClientChangePipe, ClientCreatePipe, ClientIdPipe } from '../http/input-validation.js';
import { CurrentAdmin } from './admin-actor.js';
import {
  CLIENT_ID_PARAM,
  CreateClientRequestDto,
  CreatedTokenClientDto,
  TokenClientDto,
  UpdateClientRequestDto,
} from './admin-clients.dto.js';
import { ApiErrorDto } from './admin.dto.js';
import { AdminRoutes } from './admin-routes.decorator.js';

/**
 * The servers that take tokens through `/cgi-bin/*` with a key of their own
 * (sent as `secret`) instead of the account's AppSecret: each can be limited
 * to some accounts and networks, and cut off alone. Every write is audited.
 */
@AdminRoutes()
@Controller('admin/clients')
export class AdminClientsController {
  constructor(private readonly clients: ClientAdminService) {}

  @Post()
  @ApiOperation({
    summary: 'New client, and its key (shown once)',
    description:
      'The key goes in the `secret` field of /cgi-bin/token or /cgi-bin/stable_token, for the appIds given, ' +
      'from the cidrs given (inside TOKEN_CLIENT_ALLOWLIST). Only a salted hash of it is stored: it is in this ' +
      'answer and nowhere else.',
  })
  @ApiBody({ type: CreateClientRequestDto })
  @ApiCreatedResponse({ type: CreatedTokenClientDto })
  @ApiBadRequestResponse({ description: 'Malformed name, appIds or cidrs.', type: ApiErrorDto })
  @ApiConflictResponse({ description: 'A client has this name already.', type: ApiErrorDto })
  create(
    @CurrentAdmin() actor: AdminActor,
    @Body(ClientCreatePipe) client: NewTokenClient,
  ): Promise<CreatedTokenClient> {
    return answered(this.clients.create(actor, client));
  }

  @Get()
  @ApiOperation({ summary: 'Every client, revoked ones included (never a key)' })
  @ApiOkResponse({ type: [TokenClientDto] })
  list(): Promise<TokenClient[]> {
    return this.clients.list();
  }

  @Get(':id')
  @ApiOperation({ summary: 'One client (never its key)' })
  @ApiParam(CLIENT_ID_PARAM)
  @ApiOkResponse({ type: TokenClientDto })
  @ApiBadRequestResponse({ description: 'Malformed id.', type: ApiErrorDto })
  @ApiNotFoundResponse({ description: 'No such client.', type: ApiErrorDto })
  get(@Param('id', ClientIdPipe) id: number): Promise<TokenClient> {
    return answered(this.clients.get(id));
  }

  @Patch(':id')
  @ApiOperation({
    summary: "Change a client's name, appIds, cidrs or enabled",
    description: 'Only the fields sent change; every replica follows within 2 s. The key stays the same.',
  })
  @ApiParam(CLIENT_ID_PARAM)
  @ApiBody({ type: UpdateClientRequestDto })
  @ApiOkResponse({ type: TokenClientDto })
  @ApiBadRequestResponse({ description: 'Malformed id or body.', type: ApiErrorDto })
  @ApiNotFoundResponse({ description: 'No such client.', type: ApiErrorDto })
  @ApiConflictResponse({ description: 'Another client has this name.', type: ApiErrorDto })
  update(
    @CurrentAdmin() actor: AdminActor,
    @Param('id', ClientIdPipe) id: number,
    @Body(ClientChangePipe) change: TokenClientChange,
  ): Promise<TokenClient> {
    return answered(this.clients.update(actor, id, change));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: "Revoke a client's key",
    description:
      'Refused at once on this replica and within 2 s on every other one (40125). The client stays listed ' +
      '(`enabled: false`) with its handouts; PATCH `{"enabled": true}` undoes it.',
  })
  @ApiParam(CLIENT_ID_PARAM)
  @ApiNoContentResponse({ description: 'Revoked (or already was).' })
  @ApiBadRequestResponse({ description: 'Malformed id.', type: ApiErrorDto })
  @ApiNotFoundResponse({ description: 'No such client.', type: ApiErrorDto })
  revoke(@CurrentAdmin() actor: AdminActor, @Param('id', ClientIdPipe) id: number): Promise<void> {
    return answered(this.clients.revoke(actor, id));
  }
}

/** The service's answer, its errors as the HTTP answers they are (404, 409). */
async function answered<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof UnknownClientError) {
      throw new NotFoundException(HTTP_MESSAGES.clientNotFound(error.clientId));
    }
    if (error instanceof ClientNameTakenError) throw new ConflictException(HTTP_MESSAGES.clientNameTaken());
    throw error;
  }
}
