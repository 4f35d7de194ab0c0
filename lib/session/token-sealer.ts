import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { isTokenRecord } from '../token-set';
import type { WpsTokenRecord } from '../types';

/** Every sealed token record starts with this: format and version. */
export const SEALED_PREFIX = 'wpsenc:v1:';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HKDF_SALT = 'express-wps-oauth token encryption';
const HKDF_INFO = 'express-wps-oauth token record wpsenc:v1 aes-256-gcm';
const CACHE_SIZE = 1000;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Why a sealed record did not open: for the log line, which never shows the record. */
export type UnsealFailure = 'malformed' | 'unknown_key' | 'authentication_failed';

/**
 * The AES-256 key for one `tokenEncryptionKey` entry: a 32-byte Buffer as it is, a string (at least 32
 * characters) stretched with HKDF-SHA256. Validation happens in the options schema.
 */
export function deriveTokenKey(key: string | Buffer): Buffer {
  if (typeof key !== 'string') return Buffer.from(key);
  return Buffer.from(hkdfSync('sha256', Buffer.from(key, 'utf8'), HKDF_SALT, HKDF_INFO, KEY_BYTES));
}

function decode(part: string | undefined, bytes?: number): Buffer | undefined {
  if (part === undefined || !BASE64URL.test(part)) return undefined;
  const buf = Buffer.from(part, 'base64url');
  // Refuse non-canonical encodings, so that one record has exactly one sealed form.
  if (buf.toString('base64url') !== part || (bytes !== undefined && buf.length !== bytes)) return undefined;
  return buf;
}

/**
 * Seals token records as `wpsenc:v1:<kid>:<iv>:<ciphertext>:<tag>` (AES-256-GCM, random 12-byte IV, the session
 * id as additional data: a record copied into another session does not open). `kid` names the key, so opening
 * never tries every key. The first key seals; every key opens. Internal.
 */
export class TokenSealer {
  /** The key ids, in order: two sealers with the same `keyring` read and write the same records. */
  readonly keyring: string;
  private readonly sealKey: Buffer;
  private readonly sealKid: string;
  private readonly keys = new Map<string, Buffer>();
  /** `<sealed>\n<sid>` → the record it holds: loading an unchanged session does not decrypt again. */
  private readonly opened = new Map<string, Readonly<WpsTokenRecord>>();

  /** `keys`: the `tokenEncryptionKey` entries, validated; the first seals, every one opens. */
  constructor(keys: ReadonlyArray<string | Buffer>) {
    for (const key of keys.map(deriveTokenKey)) {
      const kid = createHash('sha256').update(key).digest('hex').slice(0, 8);
      if (!this.keys.has(kid)) this.keys.set(kid, key);
    }
    const [first] = this.keys;
    if (first === undefined) throw new TypeError('express-wps-oauth: TokenSealer needs at least one key');
    [this.sealKid, this.sealKey] = first;
    this.keyring = [...this.keys.keys()].join(',');
  }

  /** The record as one opaque string, bound to session `sid`. */
  seal(record: WpsTokenRecord, sid: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv);
    cipher.setAAD(Buffer.from(sid, 'utf8'));
    const body = Buffer.concat([cipher.update(JSON.stringify(record), 'utf8'), cipher.final()]);
    const sealed =
      `${SEALED_PREFIX}${this.sealKid}:${iv.toString('base64url')}:` +
      `${body.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}`;
    this.remember(sealed, sid, { ...record });
    return sealed;
  }

  /**
   * The record inside `sealed`, or `undefined` when it does not open here: not a sealed record, sealed with a key
   * not in the list, tampered with, or sealed for another session. Each call returns a new object.
   */
  unseal(sealed: string, sid: string): WpsTokenRecord | undefined {
    const cacheKey = `${sealed}\n${sid}`;
    const known = this.opened.get(cacheKey);
    if (known !== undefined) return { ...known };
    const parts = this.parse(sealed);
    if (parts === undefined) return undefined;
    let record: unknown;
    try {
      const decipher = createDecipheriv('aes-256-gcm', parts.key, parts.iv);
      decipher.setAAD(Buffer.from(sid, 'utf8'));
      decipher.setAuthTag(parts.tag);
      record = JSON.parse(Buffer.concat([decipher.update(parts.body), decipher.final()]).toString('utf8'));
    } catch {
      return undefined;
    }
    if (!isTokenRecord(record)) return undefined;
    this.remember(sealed, sid, { ...record });
    return record;
  }

  /** Why {@link unseal} gave `undefined` for `sealed`. */
  failureOf(sealed: string): UnsealFailure {
    const parts = sealed.split(':');
    if (!sealed.startsWith(SEALED_PREFIX) || parts.length !== 6) return 'malformed';
    if (!this.keys.has(parts[2] ?? '')) return 'unknown_key';
    return this.parse(sealed) === undefined ? 'malformed' : 'authentication_failed';
  }

  private parse(sealed: string): { key: Buffer; iv: Buffer; body: Buffer; tag: Buffer } | undefined {
    if (!sealed.startsWith(SEALED_PREFIX)) return undefined;
    const [, , kid, ivPart, bodyPart, tagPart, extra] = sealed.split(':');
    const key = this.keys.get(kid ?? '');
    const iv = decode(ivPart, IV_BYTES);
    const body = decode(bodyPart);
    const tag = decode(tagPart, TAG_BYTES);
    if (key === undefined || iv === undefined || body === undefined || tag === undefined || extra !== undefined) {
      return undefined;
    }
    return { key, iv, body, tag };
  }

  private remember(sealed: string, sid: string, record: WpsTokenRecord): void {
    if (this.opened.size >= CACHE_SIZE) {
      const oldest = this.opened.keys().next();
      if (oldest.done !== true) this.opened.delete(oldest.value);
    }
    this.opened.set(`${sealed}\n${sid}`, Object.freeze(record));
  }
}
