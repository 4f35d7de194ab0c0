import type { Request } from 'express';
import { readBody } from '../read-body';
import { MAX_BODY_BYTES, MAX_CODE_CHARS, REFUSALS, type ClientRefusal } from './client-answers';

/** What the body of a sign-in `POST` turned out to be. */
export type ClientBody =
  /** A well-formed request: a code worth showing WPS, and the `returnTo` as given (checked later). */
  | { kind: 'ok'; code: string; returnTo: unknown }
  /** Refused, with why in a few words for the log. */
  | { kind: 'refused'; refusal: ClientRefusal; why: string }
  /** The client went away before its body was complete. */
  | { kind: 'gone' };

const PRINTABLE = /^[\x21-\x7e]+$/;

/** Whether `header` names JSON exactly (`application/json`, parameters such as `charset` aside). */
export function isJsonType(header: string | undefined): boolean {
  return header?.split(';')[0]?.trim().toLowerCase() === 'application/json';
}

function refused(refusal: ClientRefusal, why: string): ClientBody {
  return { kind: 'refused', refusal, why };
}

/** The JSON value of the body, or a refusal: over the size limit, or not JSON. */
async function parsedBody(req: Request): Promise<{ value: unknown } | ClientBody> {
  const body = await readBody(req, MAX_BODY_BYTES);
  if (body.kind === 'gone') return body;
  if (body.kind === 'too_large') return refused(REFUSALS.tooLarge, 'body over the limit');
  if (body.kind === 'parsed') {
    // A body parser in front read it (chunked, so its size was not declared): measured as the JSON it was.
    const size = Buffer.byteLength(JSON.stringify(body.value) ?? '', 'utf8');
    return size > MAX_BODY_BYTES ? refused(REFUSALS.tooLarge, 'body over the limit') : { value: body.value };
  }
  try {
    return { value: JSON.parse(body.bytes.toString('utf8')) as unknown };
  } catch {
    return refused(REFUSALS.notObject, 'malformed JSON');
  }
}

/**
 * Read a sign-in `POST` in the order that spends nothing on a request that will be refused: the content type
 * (before reading), the size (while reading), the JSON, then the code's shape. Own properties only: a `__proto__`
 * key is data, never a prototype. Never rejects.
 */
export async function readClientBody(req: Request): Promise<ClientBody> {
  if (!isJsonType(req.headers['content-type'])) return refused(REFUSALS.notJson, 'not application/json');
  const parsed = await parsedBody(req);
  if (!('value' in parsed)) return parsed;
  const { value } = parsed;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return refused(REFUSALS.notObject, 'not a JSON object');
  }
  const code: unknown = Object.hasOwn(value, 'code') ? (value as { code: unknown }).code : undefined;
  if (typeof code !== 'string' || code.length > MAX_CODE_CHARS || !PRINTABLE.test(code)) {
    return refused(REFUSALS.badCode, 'no usable code');
  }
  const returnTo: unknown = Object.hasOwn(value, 'returnTo') ? (value as { returnTo: unknown }).returnTo : undefined;
  return { kind: 'ok', code, returnTo };
}
