import { Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import {
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TICKET_TYPES, WechatErrcode } from 'nestjs-wechat-token';
import { ClientAllowlist } from '../network/client-allowlist.js';
import { WechatErrorAnswerDto, WechatTicketAnswerDto } from './cgi-bin.dto.js';
import { CompatTicketService } from './compat-ticket.service.js';
import { allowlistRefusal, repeatedParameterAnswer, sendWechatAnswer as send } from './wechat-answer.js';

const PATH = 'getticket';
/** The query parameters, in the order WeChat checks them, with the errcode for each given twice. */
const TICKET_PARAMETERS = [
  ['access_token', WechatErrcode.INVALID_CREDENTIAL],
  ['type', WechatErrcode.INVALID_ARGS],
] as const;

/**
 * WeChat's `GET /cgi-bin/ticket/getticket`, answered from the shared ticket
 * of the account whose access_token the client sends: a WeChat SDK that took
 * its token from the center takes its jsapi / wx_card ticket from it too,
 * with no change but the base URL. Only clients in `TOKEN_CLIENT_ALLOWLIST`
 * get an answer other than 40164 (checked first, as for `/cgi-bin/token`).
 * Other methods get WeChat's 43001 (from the exception filter, but POST,
 * which is here for the OpenAPI description), never a JSON 404 a WeChat
 * client cannot read.
 */
@ApiTags('wechat-compatible')
@ApiExtraModels(WechatTicketAnswerDto, WechatErrorAnswerDto)
@Controller('cgi-bin/ticket')
export class GetTicketController {
  constructor(
    private readonly compat: CompatTicketService,
    private readonly allowlist: ClientAllowlist,
  ) {}

  @Get(PATH)
  @ApiOperation({
    summary: "WeChat's GET /cgi-bin/ticket/getticket, answered with the shared ticket (no fetch per request)",
    description:
      'access_token must be one the center handed out (its current token, or the one it replaced within the ' +
      'overlap): any other is 40001 and costs no call to WeChat. 41001: no access_token; 40097: type is not ' +
      'jsapi or wx_card; 48001: the account does not keep that type (its errmsg names the WECHAT_ACCOUNTS flag ' +
      'to add); 40164: client outside TOKEN_CLIENT_ALLOWLIST; -1: no ticket can be had now.',
  })
  @ApiQuery({
    name: 'access_token',
    description: 'A token from this server’s /cgi-bin/token or stable_token.',
  })
  @ApiQuery({ name: 'type', enum: TICKET_TYPES })
  @ApiOkResponse({
    description: 'HTTP 200 either way, as WeChat answers: a ticket, or `errcode`/`errmsg`.',
    schema: {
      oneOf: [{ $ref: getSchemaPath(WechatTicketAnswerDto) }, { $ref: getSchemaPath(WechatErrorAnswerDto) }],
    },
  })
  async getTicket(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const refusal = allowlistRefusal(this.allowlist, this.allowlist.clientIp(request.raw), request.raw);
    if (refusal !== undefined) return send(reply, refusal);
    const query = request.query as Record<string, unknown>;
    const repeated = repeatedParameterAnswer(query, TICKET_PARAMETERS);
    if (repeated !== undefined) return send(reply, repeated);
    send(reply, await this.compat.answer({ accessToken: query.access_token, type: query.type }));
  }

  @Post(PATH)
  @HttpCode(200)
  @ApiOperation({ summary: 'Not a GET: 43001, as WeChat answers (so are the other methods)' })
  @ApiOkResponse({ type: WechatErrorAnswerDto })
  postTicket(@Res() reply: FastifyReply): void {
    send(reply, this.compat.requireGet());
  }
}
