import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { sendError, sendJson } from './answers';
import { WpsHttpError } from './errors';
import { firstValues, isFormContentType } from './params';
import type { RouteRegistry } from './routes';
import type { FakeTimers } from './timers';

/** One HTTP request the fake received, so tests can assert on exactly what the app sent. */
export interface RecordedRequest {
  /** HTTP method, e.g. `'POST'`. */
  method: string;
  /** Raw path without the query string, e.g. `'/oauth2/token'`. */
  path: string;
  /** Query parameters (first value of a repeated name). */
  query: Record<string, string>;
  /** Request headers as Node received them (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
  /** Raw body as UTF-8 (empty when the body was over the 1 MB cap). */
  body: string;
  /** Parsed body when it was sent as `application/x-www-form-urlencoded`, else `{}` (first value of a repeated name). */
  form: Record<string, string>;
  /** `Date.now()` when the request was complete. */
  at: number;
}

/** What the server needs from the fake: where to route, where to log, which timers `close()` stops. */
export interface FakeServerParts {
  routes: RouteRegistry;
  requests: RecordedRequest[];
  timers: FakeTimers;
}

/** A listening fake: its base URL, and `close()`. */
export interface FakeServer {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:54321`. */
  url: string;
  /** Stop the server and destroy every open socket, hanging ones included; safe to call twice. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

/** Listen on 127.0.0.1 at a random port: tests run in parallel, and nothing outside this machine can reach it. */
export async function startServer(parts: FakeServerParts): Promise<FakeServer> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(parts, req, res).catch((error: unknown) => answerFailure(res, error));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const url = await new Promise<string>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${port}`);
    });
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise((resolve) => {
      parts.timers.stopAll();
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
    return closing;
  };
  return { url, close };
}

/** Read and record the request (even one refused later), then route it. */
async function handle(parts: FakeServerParts, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { path, query } = splitUrl(req.url ?? '/');
  const body = await readBody(req);
  const isForm = body !== undefined && isFormContentType(req.headers['content-type']);
  const form = isForm ? new URLSearchParams(body.toString('utf8')) : undefined;
  parts.requests.push({
    method: req.method ?? '',
    path,
    query: firstValues(query),
    headers: { ...req.headers },
    body: body?.toString('utf8') ?? '',
    form: form ? firstValues(form) : {},
    at: Date.now(),
  });
  if (body === undefined) throw new WpsHttpError(413, 41300000, 'payload_too_large', 'request body exceeds 1 MB');
  await parts.routes.dispatch({ req, res, path, query, form, body });
}

/** A refusal in WPS's envelope; anything else is the fake's own bug, answered 500 without details. */
function answerFailure(res: ServerResponse, error: unknown): void {
  if (error instanceof WpsHttpError) sendError(res, error);
  else if (!res.headersSent && !res.destroyed) sendJson(res, 500, { code: 50000000, msg: 'server_error' });
}

/** Resolves with `undefined` when the body exceeds the cap; the rest is drained so the client can read the 413. */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        chunks.length = 0;
        resolve(undefined);
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('request aborted'));
    });
  });
}

function splitUrl(rawUrl: string): { path: string; query: URLSearchParams } {
  const mark = rawUrl.indexOf('?');
  if (mark === -1) return { path: rawUrl, query: new URLSearchParams() };
  return { path: rawUrl.slice(0, mark), query: new URLSearchParams(rawUrl.slice(mark + 1)) };
}
