import { Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import {
  ApiBody,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { WechatErrcode } from 'nestjs-wechat-token';
import { ClientAllowlist } from '../network/client-allowlist.js';
import { StableTokenRequestDto, WechatErrorAnswerDto, WechatTokenAnswerDto } from './cgi-bin.dto.js';
import { CompatTokenService } from './compat-token.service.js';
import { allowlistRefusal, repeatedParameterAnswer, sendWechatAnswer as send } from './wechat-answer.js';

/** The query parameters of `/cgi-bin/token`, in the order WeChat checks them, with the errcode for each given twice. */
const TOKEN_PARAMETERS = [
  ['grant_type', WechatErrcode.INVALID_GRANT_TYPE],
  ['appid', WechatErrcode.INVALID_APPID],
  ['secret', WechatErrcode.INVALID_APPSECRET],
] as const;

const WECHAT_ANSWER = {
  description: 'HTTP 200 either way, as WeChat answers: a token, or `errcode`/`errmsg`.',
  schema: {
    oneOf: [{ $ref: getSchemaPath(WechatTokenAnswerDto) }, { $ref: getSchemaPath(WechatErrorAnswerDto) }],
  },
};

/**
 * WeChat's token endpoints, answered from the shared token: servers in any
 * language point their WeChat base URL here and keep their code, with a
 * client key (`POST /admin/clients`) or the AppSecret as `secret`. Only
 * clients in `TOKEN_CLIENT_ALLOWLIST` get an answer other than 40164: the
 * allowlist is checked first (WeChat checks its whitelist after the
 * credentials), so a client outside it learns nothing about appids or secrets.
 * A key's own networks are checked after the key (40164 too). A parameter
 * given twice gets the errcode of that parameter (40002, 40013, 40125) and an
 * errmsg that says so; other methods and unknown paths under `/cgi-bin` are
 * answered by the exception filter (43001 / 43002 / 40066).
 */
@ApiTags('wechat-compatible')
@ApiExtraModels(WechatTokenAnswerDto, WechatErrorAnswerDto)
@Controller('cgi-bin')
export class CgiBinController {
  constructor(
    private readonly compat: CompatTokenService,
    private readonly allowlist: ClientAllowlist,
  ) {}

  @Get('token')
  @ApiOperation({ summary: "WeChat's GET /cgi-bin/token, answered with the shared token (never a fetch)" })
  @ApiQuery({ name: 'grant_type', example: 'client_credential' })
  @ApiQuery({ name: 'appid', example: 'wx1234567890abcdef' })
  @ApiQuery({
    name: 'secret',
    description:
      'A client key (`wtc_…`, from POST /admin/clients) or, unless ALLOW_APPSECRET_CLIENTS=false, the AppSecret.',
  })
  @ApiOkResponse(WECHAT_ANSWER)
  async token(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const ip = this.allowlist.clientIp(request.raw);
    const refusal = allowlistRefusal(this.allowlist, ip, request.raw);
    if (refusal !== undefined) return send(reply, refusal);
    const query = request.query as Record<string, unknown>;
    const repeated = repeatedParameterAnswer(query, TOKEN_PARAMETERS);
    if (repeated !== undefined) return send(reply, repeated);
    send(
      reply,
      await this.compat.answer({
        grantType: query.grant_type,
        appId: query.appid,
        secret: query.secret,
        clientIp: ip,
      }),
    );
  }

  @Post('stable_token')
  @HttpCode(200)
  @ApiOperation({
    summary: "WeChat's POST /cgi-bin/stable_token, answered with the shared token",
    description: '`force_refresh: true` forces a refresh (rate-limited; refused with 45011).',
  })
  @ApiBody({ type: StableTokenRequestDto })
  @ApiOkResponse(WECHAT_ANSWER)
  async stableToken(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const ip = this.allowlist.clientIp(request.raw);
    const refusal = allowlistRefusal(this.allowlist, ip, request.raw);
    if (refusal !== undefined) return send(reply, refusal);
    const body = parseBody(request.body);
    if (body === undefined) return send(reply, this.compat.dataFormatError());
    const { grant_type, appid, secret, force_refresh } = body;
    if (
      !isOptional(appid, 'string') ||
      !isOptional(secret, 'string') ||
      !isOptional(force_refresh, 'boolean')
    ) {
      return send(reply, this.compat.dataFormatError());
    }
    send(
      reply,
      await this.compat.answer({
        grantType: grant_type,
        appId: appid,
        secret,
        forceRefresh: force_refresh === true,
        clientIp: ip,
      }),
    );
  }

  @Get('stable_token')
  @ApiOperation({ summary: 'Not a POST: 43002, as WeChat answers (so are the other methods)' })
  @ApiOkResponse({ type: WechatErrorAnswerDto })
  stableTokenGet(@Res() reply: FastifyReply): void {
    send(reply, this.compat.requirePost());
  }
}

/** The JSON object of a stable_token body (sent as JSON or as plain text), or undefined. */
function parseBody(body: unknown): Record<string, unknown> | undefined {
  let value = body;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return value as Record<string, unknown>;
}

function isOptional(value: unknown, type: 'string' | 'boolean'): boolean {
  return value === undefined || value === null || typeof value === type;
}
