import { cleanExternalText } from '../errors';

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
export const IV_BYTES = 16;
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
 * Topic and operation, as a log line may show them: bounded, printable, and never one of `secrets` (a refused
 * event's fields are not verified, so they may hold anything).
 */
export function loggable(e: { topic: string; operation: string }, secrets: readonly string[]): Record<string, unknown> {
  return { topic: cleanExternalText(e.topic, 100, secrets), operation: cleanExternalText(e.operation, 100, secrets) };
}
