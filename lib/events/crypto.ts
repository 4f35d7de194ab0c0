import { createDecipheriv, createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { IV_BYTES, type SignedEnvelope } from './envelope';

/** Standard base64 with padding, as WPS sends `encrypted_data`. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

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
