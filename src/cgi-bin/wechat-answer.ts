import type { FastifyReply } from 'fastify';
import { wechatErrmsg, withRid } from 'nestjs-wechat-token';

/** Content-Type of every answer of the WeChat-compatible endpoints. */
export const WECHAT_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * WeChat's error body: `{"errcode":…,"errmsg":"… rid: …"}` (sent with HTTP 200, as WeChat does).
 * The errmsg is WeChat's text for the errcode unless one is given.
 */
export function wechatErrorBody(errcode: number, errmsg = wechatErrmsg(errcode)): string {
  return JSON.stringify({ errcode, errmsg: withRid(errmsg) });
}

/** Sends a WeChat-compatible answer: HTTP 200 (whatever it says) with WeChat's content type. */
export function sendWechatAnswer(reply: FastifyReply, body: string): void {
  reply.header('content-type', WECHAT_CONTENT_TYPE).send(body);
}
