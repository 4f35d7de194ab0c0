import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { invalidSignature } from './errors';

const KSO_PATTERN = /^KSO-1 ([^:\s]+):([0-9a-f]{64})$/;
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

/**
 * Strict KSO-1: throws 401 `invalid_signature` unless the request is signed with this app's APPID and APPKEY.
 * Computed here independently of the library's signing code, so a mistake there cannot hide in code both share.
 */
export function verifySignature(
  req: IncomingMessage,
  body: Buffer,
  app: { readonly clientId: string; readonly clientSecret: string },
): void {
  const date = req.headers['x-kso-date'];
  const authorization = req.headers['x-kso-authorization'];
  if (typeof date !== 'string' || typeof authorization !== 'string') {
    throw invalidSignature('X-Kso-Date and X-Kso-Authorization headers are required');
  }
  const signedAt = Date.parse(date);
  if (!Number.isFinite(signedAt) || Math.abs(Date.now() - signedAt) > MAX_CLOCK_SKEW_MS) {
    throw invalidSignature('X-Kso-Date is not an RFC 1123 date within 15 minutes of now');
  }
  const match = KSO_PATTERN.exec(authorization);
  if (!match || match[1] !== app.clientId) {
    throw invalidSignature("X-Kso-Authorization must be 'KSO-1 <APPID>:<hex signature>' with this app's APPID");
  }
  const bodyHash = body.length === 0 ? '' : createHash('sha256').update(body).digest('hex');
  const contentType = req.headers['content-type'] ?? '';
  const expected = createHmac('sha256', app.clientSecret)
    .update(`KSO-1${req.method ?? ''}${req.url ?? ''}${contentType}${date}${bodyHash}`)
    .digest();
  if (!timingSafeEqual(expected, Buffer.from(match[2] ?? '', 'hex'))) {
    throw invalidSignature('the signature does not match the request');
  }
}
