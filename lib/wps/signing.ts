import { createHash, createHmac } from 'node:crypto';

/** The app's credentials, as KSO-1 uses them: the APPID names the key, the APPKEY is the HMAC key. */
export interface KsoCredentials {
  appId: string;
  appKey: string;
}

/** One request, exactly as it goes on the wire. */
export interface KsoRequest {
  /** HTTP method; upper-cased before signing. */
  method: string;
  /** Path plus query string as sent, e.g. `/v7/users/current?fields=id`. */
  requestUri: string;
  /** The `Content-Type` header as sent; `''` when there is none. */
  contentType: string;
  /** The body bytes as sent; `undefined` or empty when there is no body. */
  body: string | Uint8Array | undefined;
}

/** The two headers KSO-1 adds to a request. */
export interface KsoHeaders {
  'X-Kso-Date': string;
  'X-Kso-Authorization': string;
}

function sha256Hex(body: string | Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

/**
 * Sign a request with WPS's "KSO-1" scheme:
 * `X-Kso-Authorization: KSO-1 <APPID>:<hex HMAC-SHA256(APPKEY, "KSO-1" + METHOD + REQUEST_URI + CONTENT_TYPE +
 * X-Kso-Date + sha256hex(body))>`, where the body hash is the empty string when there is no body.
 *
 * @param date When the request is signed; WPS refuses a date far from its clock.
 */
export function signKso1(credentials: KsoCredentials, request: KsoRequest, date: Date = new Date()): KsoHeaders {
  const ksoDate = date.toUTCString();
  const { body } = request;
  const bodyHash = body === undefined || body.length === 0 ? '' : sha256Hex(body);
  const digest = createHmac('sha256', credentials.appKey)
    .update(`KSO-1${request.method.toUpperCase()}${request.requestUri}${request.contentType}${ksoDate}${bodyHash}`)
    .digest('hex');
  return { 'X-Kso-Date': ksoDate, 'X-Kso-Authorization': `KSO-1 ${credentials.appId}:${digest}` };
}
