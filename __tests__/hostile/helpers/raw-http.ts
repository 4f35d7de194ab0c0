import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';

/** A server started on 127.0.0.1 for one test file. */
export interface LocalServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  port: number;
  close(): Promise<void>;
}

/** Serve `handler` (an Express app) on 127.0.0.1, random port. */
export function listen(handler: RequestListener): Promise<LocalServer> {
  return new Promise((resolve, reject) => {
    const server: Server = createServer(handler);
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        origin: `http://127.0.0.1:${port}`,
        port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** A parsed HTTP/1.1 response. Header names are lower-case; every header keeps all its values. */
export interface RawResponse {
  status: number;
  headers: Record<string, string[]>;
  body: string;
  /** The response exactly as received, for scanning. */
  raw: string;
}

/** First value of a header. */
export function header(res: RawResponse, name: string): string | undefined {
  return res.headers[name.toLowerCase()]?.[0];
}

/** The `connect.sid=...` pair from a response's Set-Cookie, if any. */
export function sessionCookieOf(res: RawResponse): string | undefined {
  for (const c of res.headers['set-cookie'] ?? []) {
    const pair = c.split(';')[0];
    if (pair?.startsWith('connect.sid=')) return pair;
  }
  return undefined;
}

function decodeChunked(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (let guard = 0; guard < 100_000 && at < body.length; guard++) {
    const eol = body.indexOf('\r\n', at);
    if (eol === -1) break;
    const size = parseInt(body.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

function parseResponse(data: Buffer): RawResponse {
  const end = data.indexOf('\r\n\r\n');
  const head = (end === -1 ? data : data.subarray(0, end)).toString('latin1');
  let body = end === -1 ? Buffer.alloc(0) : data.subarray(end + 4);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    (headers[name] ??= []).push(line.slice(colon + 1).trim());
  }
  if (headers['transfer-encoding']?.[0]?.toLowerCase() === 'chunked') body = decodeChunked(body);
  return { status, headers, body: body.toString('utf8'), raw: data.toString('latin1') };
}

/**
 * Send `GET <target>` over a fresh TCP connection, byte for byte: `target` may hold bytes no HTTP client library
 * would send (spaces, CR/LF, NUL, raw UTF-8), which is the point.
 */
export function rawGet(
  port: number,
  target: string | Buffer,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const lines = Object.entries({ Host: 'app.test', Connection: 'close', ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const request = Buffer.concat([
    Buffer.from('GET '),
    typeof target === 'string' ? Buffer.from(target, 'utf8') : target,
    Buffer.from(` HTTP/1.1\r\n${lines}\r\n`),
  ]);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to GET ${String(target).slice(0, 80)}`)));
    socket.on('data', (c: Buffer) => chunks.push(c));
    // A server may answer a request it cannot parse and reset the connection: what arrived is the answer.
    socket.on('error', (err) => (chunks.length > 0 ? resolve(parseResponse(Buffer.concat(chunks))) : reject(err)));
    socket.on('close', () => resolve(parseResponse(Buffer.concat(chunks))));
  });
}
