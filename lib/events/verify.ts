import { cleanExternalText, WpsEventError, type WpsEventErrorCode } from '../errors';
import { EventVerifier } from './crypto';
import { parseEnvelope, type SignedEnvelope } from './envelope';
import type { WpsEvent } from './types';

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const SIGNATURE_MISMATCH = "the signature does not match (are clientId and clientSecret this app's APPID and APPKEY?)";

/**
 * What a request body turned out to be. Internal: `wpsEvents` acts on it (and logs `reason`, the envelope's
 * topic and operation, and the skew); `verifyWpsEvent` returns the first two kinds and throws the third.
 */
export type Verdict =
  | { kind: 'challenge'; challenge: string }
  /** Verified and decrypted; its `signature` keys the dedupe. */
  | { kind: 'event'; event: WpsEvent; signature: string }
  /** Refused before anything ran; `envelope` is there when the body had the fields of an event. */
  | { kind: 'refused'; code: WpsEventErrorCode; reason: string; envelope?: SignedEnvelope; skewSeconds?: number };

/** A refusal; with the envelope when the body had the fields of an event (the log shows its topic and operation). */
function refused(code: WpsEventErrorCode, reason: string, envelope?: SignedEnvelope): Verdict {
  return envelope === undefined ? { kind: 'refused', code, reason } : { kind: 'refused', code, reason, envelope };
}

/**
 * Check a parsed JSON body, in the order that costs an attacker most and tells them least: the fields, the
 * signature (before anything else is believed), the time window, then the decryption. Pure: `nowMs` is the time.
 */
export function checkEvent(body: unknown, verifier: EventVerifier, maxAgeMs: number, nowMs: number): Verdict {
  const parsed = parseEnvelope(body);
  if (parsed.kind === 'challenge') return parsed;
  if (parsed.kind === 'invalid') return refused('invalid_event', parsed.reason);
  const e = parsed.envelope;
  if (!verifier.signatureMatches(e)) return refused('invalid_signature', SIGNATURE_MISMATCH, e);
  const skewMs = nowMs - e.time * 1000;
  if (Math.abs(skewMs) > maxAgeMs) {
    return {
      kind: 'refused',
      code: 'stale_event',
      reason: `its time is more than maxAgeSeconds (${maxAgeMs / 1000}) from now; is this clock right?`,
      envelope: e,
      skewSeconds: Math.round(skewMs / 1000),
    };
  }
  const opened = verifier.decrypt(e);
  if (!opened.ok) return refused('invalid_event', opened.reason, e);
  const event: WpsEvent = {
    topic: e.topic,
    operation: e.operation,
    time: new Date(e.time * 1000),
    nonce: e.nonce,
    data: opened.data,
  };
  return { kind: 'event', event, signature: e.signature };
}

/** {@link checkEvent} on the body as received: UTF-8 JSON (a string is taken as already decoded). */
export function checkRawEvent(raw: Buffer | string, verifier: EventVerifier, maxAgeMs: number, nowMs: number): Verdict {
  let body: unknown;
  try {
    body = JSON.parse(typeof raw === 'string' ? raw : UTF8.decode(raw));
  } catch {
    return refused('invalid_event', 'the body is not UTF-8 JSON');
  }
  return checkEvent(body, verifier, maxAgeMs, nowMs);
}

/** What {@link verifyWpsEvent} checks. */
export interface VerifyWpsEventInput {
  /**
   * The request body exactly as it arrived: the raw bytes, or their text. Not the parsed JSON: read it before
   * (or instead of) any JSON body parser.
   */
  body: string | Buffer;
  /** The app's APPID: part of every event's signature. */
  clientId: string;
  /** The app's APPKEY: it keys the signature and the encryption. Never appears in any message. */
  clientSecret: string;
  /**
   * Events whose `time` is further than this from `now`, in the past or the future, are refused (`stale_event`):
   * a captured event cannot be replayed later. A whole number from 1 to 86400.
   * @default 300
   */
  maxAgeSeconds?: number | undefined;
  /**
   * The time to judge the event's `time` by, in ms since the epoch (tests pass a fixed one).
   * @default Date.now()
   */
  now?: number | undefined;
}

/**
 * What a verified request is: WPS's URL check (answer 200 with `{ challenge }`), or an event (answer 200
 * `{"code": 0}` within 3 s).
 */
export type VerifyWpsEventResult =
  | {
      /** WPS's URL check. */
      kind: 'challenge';
      /** The string to send back as `{"challenge": …}`. */
      challenge: string;
    }
  | {
      /** A verified event. */
      kind: 'event';
      /** Its fields, and its data decrypted and parsed as JSON. */
      event: WpsEvent;
    };

const INPUT_KEYS = new Set(['body', 'clientId', 'clientSecret', 'maxAgeSeconds', 'now']);

/** Every problem with the input, by name; never a value. */
function inputProblems(input: Record<string, unknown>): string[] {
  const { body, clientId, clientSecret, maxAgeSeconds, now } = input;
  const problems: string[] = [];
  if (typeof body !== 'string' && !Buffer.isBuffer(body)) {
    problems.push('body must be the raw request body, a string or a Buffer (read it before any JSON parser)');
  }
  if (typeof clientId !== 'string' || clientId.trim() === '') problems.push('clientId must be a non-empty string');
  if (typeof clientSecret !== 'string' || clientSecret === '') {
    problems.push('clientSecret must be a non-empty string');
  }
  const age = maxAgeSeconds ?? 300;
  if (typeof age !== 'number' || !Number.isInteger(age) || age < 1 || age > 86_400) {
    problems.push('maxAgeSeconds must be a whole number of seconds from 1 to 86400');
  }
  if (now !== undefined && (typeof now !== 'number' || !Number.isFinite(now))) {
    problems.push('now must be a finite number of ms since the epoch, e.g. Date.now()');
  }
  for (const key of Object.keys(input)) {
    if (!INPUT_KEYS.has(key)) problems.push(`${cleanExternalText(key, 40) ?? ''} is not allowed`);
  }
  return problems;
}

/**
 * Verify one request WPS pushed to the app's event URL, with no framework and no I/O — for Koa, Fastify, a bare
 * `node:http` server or a serverless function (`wpsEvents()` does the same for Express, and more). It checks
 * the signature (constant time), the time window and the decryption, exactly as `wpsEvents()` does, and throws
 * a {@link WpsEventError} otherwise: answer `err.status` with `{ error: err.code }`. Dropping re-deliveries,
 * answering within 3 s and reading the body are the caller's job.
 *
 * @example
 * import { verifyWpsEvent, WpsEventError } from 'express-wps-oauth';
 *
 * function answer(raw: Buffer): { status: number; body: object } {
 *   try {
 *     const verified = verifyWpsEvent({ body: raw, clientId: 'APPID', clientSecret: 'APPKEY' });
 *     if (verified.kind === 'challenge') return { status: 200, body: { challenge: verified.challenge } };
 *     console.log(verified.event.topic, verified.event.data);
 *     return { status: 200, body: { code: 0 } };
 *   } catch (err) {
 *     if (err instanceof WpsEventError) return { status: err.status, body: { error: err.code } };
 *     throw err;
 *   }
 * }
 */
export function verifyWpsEvent(input: VerifyWpsEventInput): VerifyWpsEventResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TypeError(
      'express-wps-oauth: verifyWpsEvent(input) expects an object, e.g. verifyWpsEvent({ body, clientId, clientSecret })',
    );
  }
  const problems = inputProblems(input as unknown as Record<string, unknown>);
  if (problems.length > 0) {
    throw new TypeError(`express-wps-oauth: invalid verifyWpsEvent input:\n  - ${problems.join('\n  - ')}`);
  }
  const verifier = new EventVerifier(input.clientId.trim(), input.clientSecret);
  const maxAgeMs = (input.maxAgeSeconds ?? 300) * 1000;
  const verdict = checkRawEvent(input.body, verifier, maxAgeMs, input.now ?? Date.now());
  if (verdict.kind === 'refused') throw new WpsEventError(verdict.code, `WPS event refused: ${verdict.reason}`);
  return verdict.kind === 'challenge' ? verdict : { kind: 'event', event: verdict.event };
}
