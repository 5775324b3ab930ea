import { PassThrough, pipeline, Transform, type Readable } from 'node:stream';

/** A request body over `PASSTHROUGH_MAX_BODY_BYTES`, found while streaming it (no Content-Length). */
export class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`request body over ${maxBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/**
 * `source` passed on as it streams, failing with `BodyTooLargeError` (and
 * so aborting the call to WeChat) once more than `maxBytes` went through.
 */
export function limitedBody(source: Readable, maxBytes: number): Readable {
  let seen = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > maxBytes) callback(new BodyTooLargeError(maxBytes));
      else callback(null, chunk);
    },
  });
  pipeline(source, limiter, ignore);
  return limiter;
}

/** A whole request body of a known, small length, read into memory (so that the call can be sent again). */
export async function readBody(source: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** What `peek` found: the whole answer (it was short), or a stream of all of it, the peeked part first. */
export type Peeked = { complete: true; body: Buffer } | { complete: false; stream: Readable };

/**
 * Reads up to `maxBytes` of `source`: the whole of it when it is that short
 * (a WeChat JSON answer, whose errcode can then be read), else a stream that
 * gives the part read and then the rest, as it comes (a long answer is
 * never held whole).
 */
export function peek(source: Readable, maxBytes: number): Promise<Peeked> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size <= maxBytes) return;
      stop();
      source.pause();
      const rest = new PassThrough();
      for (const part of chunks) rest.write(part);
      pipeline(source, rest, ignore);
      resolve({ complete: false, stream: rest });
    };
    const onEnd = (): void => {
      stop();
      resolve({ complete: true, body: Buffer.concat(chunks, size) });
    };
    const onError = (error: Error): void => {
      stop();
      reject(error);
    };
    source.on('data', onData);
    source.on('end', onEnd);
    source.on('error', onError);
  });
}

/** `pipeline`'s callback where its error is seen elsewhere (by the stream's reader). */
function ignore(): void {}
