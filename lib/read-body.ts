import type { IncomingMessage } from 'node:http';

/** What the request carried. */
export type BodyOutcome =
  /** The raw bytes, read here. */
  | { kind: 'bytes'; bytes: Buffer }
  /** What a body parser that ran before left in `req.body` (already parsed JSON, or `undefined`). */
  | { kind: 'parsed'; value: unknown }
  /** Over the limit: refused before or while reading, and reading stopped. */
  | { kind: 'too_large' }
  /** The client went away before the body was complete: there is nobody to answer. */
  | { kind: 'gone' };

/** The fields body parsers leave on a request. */
type ParsedRequest = IncomingMessage & { body?: unknown; _body?: unknown };

/**
 * Whether something read the body before us. body-parser 1.x (Express 4) marks a request it parsed with
 * `req._body = true`; 2.x (Express 5) does not, and counts a request whose stream has ended as parsed. When
 * neither parsed it (another content type), Express 4 leaves `req.body` as `{}` and Express 5 as `undefined`,
 * and the stream is still unread — so `req.body` is looked at only when the stream is spent.
 */
function consumed(req: ParsedRequest): boolean {
  return req._body === true || req.readableEnded || (req.complete && !req.readable);
}

/**
 * A request's body, at most `maxBytes` (an event for `wpsEvents`, a code for the client sign-in route): from
 * `req.body` when a body parser ran first, else read from the stream. A `Content-Length` over the limit is refused
 * before reading; a chunked body is counted as it arrives and refused as soon as it passes the limit. Either way
 * reading stops and nothing more is buffered: the caller answers 413 with `Connection: close`. Never rejects.
 */
export function readBody(req: ParsedRequest, maxBytes: number): Promise<BodyOutcome> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (consumed(req)) {
    if (declared > maxBytes) return Promise.resolve({ kind: 'too_large' });
    const { body } = req;
    if (Buffer.isBuffer(body)) return Promise.resolve({ kind: 'bytes', bytes: body });
    if (typeof body === 'string') return Promise.resolve({ kind: 'bytes', bytes: Buffer.from(body, 'utf8') });
    return Promise.resolve({ kind: 'parsed', value: body });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (outcome: BodyOutcome) => {
      req.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone);
      // Paused, the request buffers at most its high-water mark, then Node stops reading the socket.
      if (outcome.kind === 'too_large') req.pause();
      resolve(outcome);
    };
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      size += bytes.length;
      if (size > maxBytes) {
        chunks.length = 0;
        finish({ kind: 'too_large' });
      } else {
        chunks.push(bytes);
      }
    };
    const onEnd = () => finish({ kind: 'bytes', bytes: Buffer.concat(chunks, size) });
    const onGone = () => finish({ kind: 'gone' });
    // Listening for 'data' also marks the request as being consumed, so that Node does not drain the rest of an
    // over-limit body (reading all of it) when the 413 goes out.
    req.on('data', onData).on('end', onEnd).on('error', onGone).on('close', onGone);
    if (declared > maxBytes) finish({ kind: 'too_large' });
  });
}
