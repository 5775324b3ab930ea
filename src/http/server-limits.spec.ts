import { afterEach, describe, expect, it } from '@jest/globals';
import Fastify, { type FastifyInstance } from 'fastify';
import { once } from 'node:events';
import { Agent, request, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { closeConnectionsOnShutdown } from './server-limits.js';

/** Kept-alive connections as a load balancer keeps them: for a minute. */
const KEEP_ALIVE_MS = 60_000;
const REQUEST_TIMEOUT_MS = 300;

describe('closeConnectionsOnShutdown', () => {
  let app: FastifyInstance | undefined;
  let agent: Agent | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    agent?.destroy();
    for (const socket of sockets.splice(0)) socket.destroy();
    await app?.close();
    app = undefined;
  });

  /** A server whose `/slow` answers once `release` is called; listening, with its base URL. */
  async function start(): Promise<{
    url: string;
    port: number;
    release: () => void;
    arrived: Promise<void>;
    closeBegun: Promise<void>;
  }> {
    app = Fastify({ keepAliveTimeout: KEEP_ALIVE_MS });
    closeConnectionsOnShutdown(app, { requestTimeoutMs: REQUEST_TIMEOUT_MS });
    let release!: () => void;
    let arrive!: () => void;
    let begin!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const arrived = new Promise<void>((resolve) => (arrive = resolve));
    // Runs after the hook under test (hooks run in the order they were added).
    const closeBegun = new Promise<void>((resolve) => (begin = resolve));
    app.addHook('preClose', (done) => {
      begin();
      done();
    });
    app.get('/slow', async () => {
      arrive();
      await released;
      return { ok: true };
    });
    app.get('/fast', async () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, port, release, arrived, closeBegun };
  }

  function get(url: string): Promise<{ res: IncomingMessage; body: string }> {
    return new Promise((resolve, reject) => {
      request(url, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ res, body }));
      })
        .once('error', reject)
        .end();
    });
  }

  /** Whether `closing` settles within `ms` (a hold would last the keep-alive minute). */
  async function settlesWithin(closing: Promise<unknown>, ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)));
    try {
      return await Promise.race([closing.then(() => true), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  it('answers a request under way with Connection: close, so the close does not wait for the keep-alive', async () => {
    const { url, release, arrived, closeBegun } = await start();
    agent = new Agent({ keepAlive: true });
    // An earlier answer, kept alive: the agent sends /slow on the same connection.
    expect((await get(`${url}/fast`)).res.headers.connection).toBe('keep-alive');
    const answer = get(`${url}/slow`);
    await arrived;
    const closing = app!.close();
    app = undefined;
    // The answer starts once the close has begun.
    await closeBegun;
    release();
    const { res, body } = await answer;
    expect(JSON.parse(body)).toEqual({ ok: true });
    expect(res.headers.connection).toBe('close');
    expect(await settlesWithin(closing, 10_000)).toBe(true);
  });

  it('cuts a connection whose request never completes, after the request timeout', async () => {
    const { port } = await start();
    const accepted = once(app!.server, 'connection');
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    // The cut may reach the client as a reset.
    socket.on('error', () => undefined);
    await accepted;
    // Half a request: Node no longer times it out once the server is closing.
    socket.write('GET /fast HTTP/1.1\r\nHost: x\r\n');
    const cut = new Promise((resolve) => socket.once('close', resolve));
    const closing = app!.close();
    app = undefined;
    expect(await settlesWithin(closing, 10_000)).toBe(true);
    await cut;
  });

  it('adds nothing to an answer before the close', async () => {
    const { url } = await start();
    agent = new Agent({ keepAlive: true });
    const { res } = await get(`${url}/fast`);
    expect(res.headers.connection).toBe('keep-alive');
    expect(app!.server.keepAliveTimeout).toBe(KEEP_ALIVE_MS);
  });
});
