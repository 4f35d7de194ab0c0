import { createDecipheriv, createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The fields of a pushed event, as WPS sent them (before any verification). Internal. */
export interface SignedEnvelope {
  topic: string;
  operation: string;
  /** Whole seconds since the epoch. */
  time: number;
  nonce: string;
  signature: string;
  encryptedData: string;
}

/** What a request body is: WPS's URL check, an event to verify, or neither (with a short reason for the log). */
export type Envelope =
  | { kind: 'challenge'; challenge: string }
  | { kind: 'event'; envelope: SignedEnvelope }
  | { kind: 'invalid'; reason: string };

/** The IV is the nonce's first 16 bytes, so a shorter nonce cannot be WPS's. */
const IV_BYTES = 16;
/** Standard base64 with padding, as WPS sends `encrypted_data`. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** A lone surrogate: UTF-8 turns every one into U+FFFD, so two such strings would share one signature. */
const LONE_SURROGATE = /\p{Cs}/u;

function own(body: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(body, key) ? body[key] : undefined;
}

/** Classify a parsed JSON body. Unknown extra fields of an event are ignored (WPS may add some). */
export function parseEnvelope(body: unknown): Envelope {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { kind: 'invalid', reason: 'the body is not a JSON object' };
  }
  const fields = body as Record<string, unknown>;
  const challenge = own(fields, 'challenge');
  if (typeof challenge === 'string' && Object.keys(fields).length === 1) return { kind: 'challenge', challenge };

  const topic = own(fields, 'topic');
  const operation = own(fields, 'operation');
  const time = own(fields, 'time');
  const nonce = own(fields, 'nonce');
  const signature = own(fields, 'signature');
  const encryptedData = own(fields, 'encrypted_data');
  // Fields are joined with ':' to be signed; a topic holding one could be shifted into the nonce unnoticed.
  if (typeof topic !== 'string' || topic === '' || topic.includes(':') || LONE_SURROGATE.test(topic)) {
    return { kind: 'invalid', reason: 'topic is missing, empty, not a string, or contains ":" or a lone surrogate' };
  }
  if (typeof operation !== 'string') return { kind: 'invalid', reason: 'operation is missing or not a string' };
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time < 0) {
    return { kind: 'invalid', reason: 'time is missing or not a whole number of seconds' };
  }
  if (typeof nonce !== 'string' || Buffer.byteLength(nonce, 'utf8') < IV_BYTES || LONE_SURROGATE.test(nonce)) {
    return {
      kind: 'invalid',
      reason: `nonce is missing, not a string, shorter than ${IV_BYTES} bytes or contains a lone surrogate`,
    };
  }
  if (typeof signature !== 'string') return { kind: 'invalid', reason: 'signature is missing or not a string' };
  if (typeof encryptedData !== 'string') {
    return { kind: 'invalid', reason: 'encrypted_data is missing or not a string' };
  }
  return { kind: 'event', envelope: { topic, operation, time, nonce, signature, encryptedData } };
}

/**
 * Checks and opens events for one app, the receiving side of WPS's scheme (the test sender in
 * `express-wps-oauth/testing` implements the sending side separately):
 * - signature: base64url without padding of HMAC-SHA256(key = APPKEY, `APPID:topic:nonce:time:encrypted_data`);
 * - data: base64 `encrypted_data`, AES-256-CBC with key = the 32 ASCII characters of hex MD5(APPKEY),
 *   IV = the nonce's first 16 bytes, PKCS#7 padding, then UTF-8 JSON.
 */
export class EventVerifier {
  private readonly aesKey: Buffer;

  constructor(
    private readonly appId: string,
    private readonly appKey: string,
  ) {
    this.aesKey = Buffer.from(createHash('md5').update(appKey, 'utf8').digest('hex'), 'ascii');
  }

  /**
   * Whether the signature is this app's, compared in constant time as text: the one canonical encoding only, so
   * that a re-encoded signature (padding added, spare bits set) cannot pass as a different event.
   */
  signatureMatches(e: SignedEnvelope): boolean {
    const content = `${this.appId}:${e.topic}:${e.nonce}:${e.time}:${e.encryptedData}`;
    const expected = Buffer.from(createHmac('sha256', this.appKey).update(content, 'utf8').digest('base64url'));
    const given = Buffer.from(e.signature, 'utf8');
    if (given.length !== expected.length) {
      timingSafeEqual(expected, expected);
      return false;
    }
    return timingSafeEqual(given, expected);
  }

  /** The decrypted, parsed data, or a short reason why there is none. */
  decrypt(e: SignedEnvelope): { ok: true; data: unknown } | { ok: false; reason: string } {
    const text = e.encryptedData;
    if (text.length === 0 || text.length % 4 !== 0 || !BASE64.test(text)) {
      return { ok: false, reason: 'encrypted_data is not base64' };
    }
    const sealed = Buffer.from(text, 'base64');
    if (sealed.length % 16 !== 0) return { ok: false, reason: 'encrypted_data is not whole AES blocks' };
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-cbc', this.aesKey, Buffer.from(e.nonce, 'utf8').subarray(0, IV_BYTES));
      plain = Buffer.concat([decipher.update(sealed), decipher.final()]);
    } catch {
      return { ok: false, reason: 'encrypted_data does not decrypt (bad padding)' };
    }
    try {
      return { ok: true, data: JSON.parse(UTF8.decode(plain)) };
    } catch {
      return { ok: false, reason: 'the decrypted data is not UTF-8 JSON' };
    }
  }
}
