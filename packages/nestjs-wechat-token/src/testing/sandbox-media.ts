import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SandboxMediaType } from './wechat-sandbox.types.js';

/** The `type`s `/cgi-bin/media/upload` accepts. */
export const MEDIA_TYPES: readonly SandboxMediaType[] = ['image', 'voice', 'video', 'thumb'];

/** The largest download `media/get` serves (`bytes-67108864`). */
export const MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024;

/** Downloads are written, and their bytes defined, in chunks of this size. */
const CHUNK_BYTES = 64 * 1024;

/**
 * How much of an upload's start is kept to find its `media` part: the part
 * headers must come within it. The rest of the body only passes through the
 * hash, so a 20 MB upload costs the sandbox a few chunks of memory.
 */
const HEAD_SCAN_BYTES = 16 * 1024;

/** What `receiveMultipart` learnt of an upload it read to the end. */
export interface MultipartReceipt {
  /** Bytes of the whole body. */
  bytes: number;
  /** SHA-256 of the whole body, hex. */
  sha256: string;
  /**
   * The `media` part's filename; `null` when the body has no such part (with
   * a filename) within its first 16 KiB, or does not end with the closing boundary.
   */
  filename: string | null;
}

/** The boundary of a `multipart/form-data` Content-Type; undefined for any other type or without one. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^\s*multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const match = /;\s*boundary=(?:"([^"]{1,200})"|([^\s;"]{1,200}))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

/**
 * Reads a multipart body to its end as it streams in, never holding it:
 * every chunk goes through the hash and is counted, only the first 16 KiB
 * (to find the `media` part's headers) and the last few bytes (the closing
 * boundary) are kept. Resolves to `null` when the client went away first.
 */
export async function receiveMultipart(
  req: IncomingMessage,
  boundary: string,
): Promise<MultipartReceipt | null> {
  const hash = createHash('sha256');
  const head: Buffer[] = [];
  let headBytes = 0;
  const tailBytes = boundary.length + 8; // "--" boundary "--" and a CRLF or two
  let tail = Buffer.alloc(0);
  let bytes = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
      if (headBytes < HEAD_SCAN_BYTES) {
        const kept = Buffer.from(chunk.subarray(0, HEAD_SCAN_BYTES - headBytes));
        head.push(kept);
        headBytes += kept.length;
      }
      tail =
        chunk.length >= tailBytes
          ? Buffer.from(chunk.subarray(chunk.length - tailBytes))
          : Buffer.concat([tail, chunk]).subarray(-tailBytes);
    }
  } catch {
    return null; // the client aborted: nothing to answer
  }
  if (!req.complete) return null;
  const closed = tail
    .toString('latin1')
    .replace(/(\r\n)+$/, '')
    .endsWith(`--${boundary}--`);
  const filename = closed ? mediaPartFilename(Buffer.concat(head).toString('latin1'), boundary) : null;
  return { bytes, sha256: hash.digest('hex'), filename };
}

/** A new media_id shaped like WeChat's (64 URL-safe characters); never of the `bytes-<n>` download form. */
export function generateMediaId(): string {
  return randomBytes(48).toString('base64url');
}

/** The size of a `bytes-<n>` media_id's download; undefined for any other media_id or above 64 MiB. */
export function downloadSize(mediaId: string | null): number | undefined {
  const digits = /^bytes-(0|[1-9]\d{0,8})$/.exec(mediaId ?? '')?.[1];
  if (digits === undefined) return undefined;
  const size = Number(digits);
  return size <= MAX_DOWNLOAD_BYTES ? size : undefined;
}

/**
 * Streams the `bytes-<n>` download: n deterministic bytes (see
 * `expectedMediaSha256`), one 64 KiB chunk at a time, waiting for `drain`
 * when the client reads slower. Resolves once sent, or once the client went away.
 * WeChat labels media by their kind (`image/jpeg`…); these bytes are no image,
 * so they go as `application/octet-stream` with WeChat's other headers.
 */
export function sendMedia(res: ServerResponse, mediaId: string, bytes: number): Promise<void> {
  if (res.destroyed || res.writableEnded) return Promise.resolve();
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': bytes,
    // Spelled as WeChat spells it; header names are case-insensitive anyway.
    'Content-disposition': `attachment; filename="${mediaId}.bin"`,
    'Cache-Control': 'no-cache, must-revalidate',
  });
  return new Promise((resolve) => {
    let index = 0;
    let sent = 0;
    const done = (): void => {
      res.off('drain', pump);
      res.off('close', done);
      resolve();
    };
    function pump(): void {
      while (sent < bytes) {
        if (res.destroyed) return done();
        const chunk = mediaChunk(index, Math.min(CHUNK_BYTES, bytes - sent));
        index += 1;
        sent += chunk.length;
        if (!res.write(chunk)) return; // `drain` pumps again
      }
      res.end();
      done();
    }
    res.on('drain', pump);
    res.once('close', done);
    pump();
  });
}

/**
 * The SHA-256 (hex) of what `GET /cgi-bin/media/get?media_id=bytes-<n>` sends,
 * so a test can check a download arrived whole and in order.
 */
export function expectedMediaSha256(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes < 0 || bytes > MAX_DOWNLOAD_BYTES) {
    throw new RangeError(`bytes must be an integer from 0 to ${MAX_DOWNLOAD_BYTES}`);
  }
  const hash = createHash('sha256');
  for (let index = 0, done = 0; done < bytes; index += 1) {
    const chunk = mediaChunk(index, Math.min(CHUNK_BYTES, bytes - done));
    hash.update(chunk);
    done += chunk.length;
  }
  return hash.digest('hex');
}

let pattern: Buffer | undefined;

/**
 * Chunk `index` of every download: a fixed 64 KiB pseudo-random pattern whose
 * first 4 bytes are the chunk's index, so a chunk lost, repeated or swapped on
 * the way changes the hash. A new buffer each time: the previous one may still
 * be queued in the socket.
 */
function mediaChunk(index: number, length: number): Buffer {
  if (!pattern) {
    pattern = Buffer.alloc(CHUNK_BYTES);
    for (let block = 0; block * 32 < CHUNK_BYTES; block += 1) {
      createHash('sha256')
        .update(`wechat-sandbox media ${block}`)
        .digest()
        .copy(pattern, block * 32);
    }
  }
  const chunk = Buffer.from(pattern);
  chunk.writeUInt32BE(index, 0);
  return length === CHUNK_BYTES ? chunk : chunk.subarray(0, length);
}

/**
 * The filename of the part named `media` whose headers lie within `head`
 * (the body's start), or null. Earlier parts (a video's `description`) may
 * come before it.
 */
function mediaPartFilename(head: string, boundary: string): string | null {
  const delimiter = `--${boundary}\r\n`;
  let at = head.startsWith(delimiter) ? 0 : head.indexOf(`\r\n${delimiter}`);
  while (at >= 0) {
    const start = head.indexOf(delimiter, at) + delimiter.length;
    const end = head.indexOf('\r\n\r\n', start);
    if (end < 0) return null; // headers cut off by the scan limit
    const disposition = head
      .slice(start, end)
      .split('\r\n')
      .find((line) => /^content-disposition\s*:\s*form-data\s*(;|$)/i.test(line));
    if (disposition && /;\s*name\s*=\s*"?media"?\s*(;|$)/i.test(disposition)) {
      const filename = /;\s*filename\*?\s*=\s*(?:"([^"]*)"|([^;]*))/i.exec(disposition);
      if (filename) return (filename[1] ?? filename[2]).trim();
    }
    at = head.indexOf(`\r\n${delimiter}`, end);
  }
  return null;
}
