import { createCipheriv, createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express from 'express';
import { wpsEvents, type WpsEvent, type WpsEventMap, type WpsEventsOptions } from '../../lib';
import { memoryLogger } from '../helpers/app';

export const APP_ID = 'events-app-id-4411';
export const APP_KEY = 'events-app-key-DO-NOT-LEAK-7a2e91';
export const CREDENTIALS = { clientId: APP_ID, clientSecret: APP_KEY };
/** The AES key WPS derives from the APPKEY: its hex MD5, which must never show either. */
export const APP_KEY_MD5 = createHash('md5').update(APP_KEY).digest('hex');

/** Whether each suite runs with `express.json()` mounted before `wpsEvents()`, or nothing. */
export const PARSERS = [
  ['without a body parser', false],
  ['after express.json()', true],
] as const;

/** A running app with `wpsEvents()` at `/wps/events`, and what it saw. */
export interface EventsServer {
  app: express.Express;
  /** e.g. `http://127.0.0.1:1234/wps/events`. */
  url: string;
  /** Every event a topic handler received, in order. */
  handled: WpsEvent[];
  /** Every event `onEvent` received. */
  seen: WpsEvent[];
  logger: ReturnType<typeof memoryLogger>;
  /** Every error that reached the app's error handler (none should). */
  errors: unknown[];
  /** Server-side sockets, to see how much of a body was read. */
  sockets: Socket[];
  close(): Promise<void>;
}

/**
 * Start an app: `express.json()` first when `json`, then `wpsEvents()` with a recording handler for `topic.ok`
 * and `onEvent`, plus `options`. `app.all('/wps/any')` mounts it for every method.
 */
export async function startEventsApp(
  json: boolean,
  options: WpsEventsOptions = {},
  routes?: (app: express.Express) => void,
): Promise<EventsServer> {
  const app = express();
  const handled: WpsEvent[] = [];
  const seen: WpsEvent[] = [];
  const errors: unknown[] = [];
  const logger = memoryLogger();
  if (json) app.use(express.json());
  routes?.(app);
  const middleware = wpsEvents<WpsEventMap>({
    ...CREDENTIALS,
    logger,
    on: {
      'topic.ok': (event) => {
        handled.push(event);
      },
    },
    onEvent: (event) => {
      seen.push(event);
    },
    ...options,
  });
  app.post('/wps/events', middleware);
  app.all('/wps/any', middleware);
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    errors.push(err);
    const e = err as { status?: number };
    res.status(e.status ?? 500).json({ appErrorHandler: true });
  });
  const sockets: Socket[] = [];
  const server = http.createServer(app);
  server.on('connection', (s) => sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    app,
    url: `http://127.0.0.1:${port}/wps/events`,
    handled,
    seen,
    logger,
    errors,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** An answer: status, headers and the body (JSON parsed when it is JSON). */
export interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  body: unknown;
  ms: number;
}

/** POST (or `method`) raw bytes to `url` on a fresh connection. */
export function post(
  url: string,
  body: string | Buffer,
  options: { method?: string; headers?: Record<string, string>; chunked?: boolean } = {},
): Promise<RawReply> {
  const started = Date.now();
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: options.method ?? 'POST',
        agent: false,
        headers: {
          'Content-Type': 'application/json',
          ...(options.chunked ? {} : { 'Content-Length': String(payload.length) }),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // keep the text
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed, ms: Date.now() - started });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.chunked) {
      // Two writes before end(): Node sends them with Transfer-Encoding: chunked.
      req.write(payload.subarray(0, payload.length >> 1));
      req.end(payload.subarray(payload.length >> 1));
    } else {
      req.end(payload);
    }
  });
}

/** POST a JSON value. */
export function postJson(url: string, value: unknown): Promise<RawReply> {
  return post(url, JSON.stringify(value));
}

/** What the test builds an event from, computed with node:crypto straight from the platform's formulas. */
export interface Sealed {
  topic: string;
  operation: string;
  time: number;
  nonce: string;
  signature: string;
  encrypted_data: string;
}

/** AES-256-CBC as WPS does it: key = hex MD5 of `appKey` as ASCII, IV = the nonce's first 16 bytes. */
export function encryptAsWps(plaintext: Buffer, nonce: string, appKey = APP_KEY, padding = true): string {
  const key = Buffer.from(createHash('md5').update(appKey).digest('hex'), 'ascii');
  const cipher = createCipheriv('aes-256-cbc', key, Buffer.from(nonce, 'utf8').subarray(0, 16));
  cipher.setAutoPadding(padding);
  return Buffer.concat([cipher.update(plaintext), cipher.final()]).toString('base64');
}

/** The unpadded base64url HMAC-SHA256 of `APPID:topic:nonce:time:encrypted_data`. */
export function signAsWps(e: Omit<Sealed, 'signature' | 'operation'>, appId = APP_ID, appKey = APP_KEY): string {
  return createHmac('sha256', appKey)
    .update(`${appId}:${e.topic}:${e.nonce}:${e.time}:${e.encrypted_data}`)
    .digest('base64url');
}

/** A correctly signed event whose `encrypted_data` is given as is (to send what WPS never would, signed). */
export function signedWith(encrypted_data: string, overrides: Partial<Omit<Sealed, 'signature'>> = {}): Sealed {
  const e = {
    topic: 'topic.ok',
    operation: 'create',
    time: Math.floor(Date.now() / 1000),
    nonce: 'nonce-0123456789abcdef',
    encrypted_data,
    ...overrides,
  };
  return { ...e, signature: signAsWps(e) };
}

/** Resolves after `ms`. */
export function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll until `check` holds, for at most `ms`. */
export async function waitFor(check: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await wait(10);
  }
}
