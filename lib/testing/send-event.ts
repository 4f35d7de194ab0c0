import { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';

// The sending side of WPS's event scheme, written apart from the receiver (lib/events) on purpose: a mistake in
// one cannot hide in code the other shares.

/** An event to push, as WPS would: `data` is encrypted, the rest is signed. */
export interface WpsEventToSend {
  /** e.g. `'kso.app_chat.message'`. */
  topic: string;
  /** e.g. `'create'`. */
  operation: string;
  /** The payload, sent as encrypted JSON. */
  data: unknown;
  /**
   * When WPS sent it: whole seconds since the epoch, or a Date (rounded down to the second).
   * @default now
   */
  time?: number | Date | undefined;
  /**
   * The nonce, at least 16 bytes (its first 16 are the IV).
   * @default 32 random hex characters
   */
  nonce?: string | undefined;
}

/** The app an event is for: its APPID and APPKEY. */
export interface WpsEventCredentials {
  /** The APPID the receiver expects (part of every signature). */
  clientId: string;
  /** The APPKEY: keys the signature and, through its MD5, the encryption. */
  clientSecret: string;
}

/** The JSON body WPS POSTs for an event. */
export interface SignedWpsEvent {
  /** The event's topic, e.g. `kso.app_chat.message`. */
  topic: string;
  /** What happened, e.g. `create` (not covered by the signature). */
  operation: string;
  /** When it happened, in whole seconds since the epoch. */
  time: number;
  /** A random string of at least 16 bytes; its first 16 are the IV. */
  nonce: string;
  /** base64url, without padding, of HMAC-SHA256(APPKEY, `APPID:topic:nonce:time:encrypted_data`). */
  signature: string;
  /** The data as JSON, encrypted with AES-256-CBC, in standard base64 with padding. */
  encrypted_data: string;
}

/** What the receiver answered. */
export interface WpsEventReply {
  /** The HTTP status the receiver answered with. */
  status: number;
  /** The answer parsed as JSON, or its text when it is not JSON. */
  body: unknown;
}

function seconds(time: number | Date | undefined): number {
  if (time === undefined) return Math.floor(Date.now() / 1000);
  const value = time instanceof Date ? Math.floor(time.getTime() / 1000) : time;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TypeError('signWpsEvent: time must be whole seconds since the epoch (or a Date)');
  }
  return value;
}

/**
 * The body WPS would POST for `event` to the app `credentials` names: `encrypted_data` is the JSON of `data`,
 * AES-256-CBC encrypted (key: the lower-case hex MD5 of the APPKEY as 32 ASCII bytes; IV: the nonce's first 16
 * bytes; PKCS#7 padding) in standard base64; `signature` is the unpadded base64url HMAC-SHA256, keyed with the
 * APPKEY, of `APPID:topic:nonce:time:encrypted_data`. Send it with supertest, or use {@link sendWpsEvent}.
 *
 * @example
 * import express from 'express';
 * import request from 'supertest';
 * import { wpsEvents } from 'express-wps-oauth';
 * import { signWpsEvent } from 'express-wps-oauth/testing';
 *
 * const credentials = { clientId: 'test-client-id', clientSecret: 'test-client-secret' };
 * const app = express();
 * app.post('/wps/events', wpsEvents({ ...credentials, on: { 'kso.app_chat.message': () => {} } }));
 * const body = signWpsEvent({ topic: 'kso.app_chat.message', operation: 'create', data: { text: 'hi' } }, credentials);
 * await request(app).post('/wps/events').send(body).expect(200, { code: 0 });
 */
export function signWpsEvent(event: WpsEventToSend, credentials: WpsEventCredentials): SignedWpsEvent {
  const { clientId, clientSecret } = credentials;
  if (typeof clientId !== 'string' || clientId === '' || typeof clientSecret !== 'string' || clientSecret === '') {
    throw new TypeError('signWpsEvent: credentials need a non-empty clientId and clientSecret (APPID and APPKEY)');
  }
  const nonce = event.nonce ?? randomBytes(16).toString('hex');
  const iv = Buffer.from(nonce, 'utf8');
  if (iv.length < 16)
    throw new TypeError('signWpsEvent: nonce must be at least 16 bytes long (its first 16 are the IV)');
  const json = JSON.stringify(event.data);
  if (json === undefined) throw new TypeError('signWpsEvent: data must be serializable as JSON');
  const time = seconds(event.time);

  const key = Buffer.from(createHash('md5').update(clientSecret).digest('hex'));
  const cipher = createCipheriv('aes-256-cbc', key, iv.subarray(0, 16));
  const encrypted = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]).toString('base64');
  const signature = createHmac('sha256', clientSecret)
    .update([clientId, event.topic, nonce, String(time), encrypted].join(':'))
    .digest('base64url');
  return { topic: event.topic, operation: event.operation, time, nonce, signature, encrypted_data: encrypted };
}

/** POST `body` as JSON to `url` on a fresh connection (closed afterwards, so no socket outlives a test). */
export function postJson(url: string, body: unknown): Promise<WpsEventReply> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = transport.request(
      target,
      {
        method: 'POST',
        agent: false,
        headers: { 'Content-Type': 'application/json', 'Content-Length': payload.length, Connection: 'close' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // Not JSON: the text as it is.
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Push an event to the app's event URL exactly as WPS does ({@link signWpsEvent}, then a JSON POST), and resolve
 * with the answer.
 *
 * @example
 * import { sendWpsEvent } from 'express-wps-oauth/testing';
 *
 * // The app listens on port 3000 and mounts wpsEvents() at /wps/events, with these credentials.
 * const reply = await sendWpsEvent(
 *   'http://127.0.0.1:3000/wps/events',
 *   { topic: 'kso.app_chat.message', operation: 'create', data: { text: 'hi' } },
 *   { clientId: 'test-client-id', clientSecret: 'test-client-secret' },
 * );
 * console.log(reply.status, reply.body); // 200 { code: 0 }
 */
export function sendWpsEvent(
  url: string,
  event: WpsEventToSend,
  credentials: WpsEventCredentials,
): Promise<WpsEventReply> {
  return postJson(url, signWpsEvent(event, credentials));
}

/**
 * Send WPS's URL check, `{"challenge": "<string>"}`, to the app's event URL; a correct app answers 200 with the
 * same challenge.
 * @param challenge The string to send; a random one when not given.
 */
export function sendWpsChallenge(url: string, challenge?: string): Promise<WpsEventReply> {
  return postJson(url, { challenge: challenge ?? randomBytes(12).toString('hex') });
}
