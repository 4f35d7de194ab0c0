import { WpsAuthError, type WpsAuthErrorDetails } from '../errors';
import { parseSeconds, type TokenResponse } from '../token-set';
import { readEnvelope } from './envelope';

function malformed(what: string, status: number, why: string): WpsAuthError {
  return new WpsAuthError('wps_unavailable', `WPS answered the ${what} with a malformed body (HTTP ${status}): ${why}`);
}

/** The optional fields of a token answer, checked; a string naming the problem when one is malformed. */
function optionalFields(body: Record<string, unknown>, res: TokenResponse): string | undefined {
  if (body.refresh_token !== undefined) {
    if (typeof body.refresh_token !== 'string' || body.refresh_token === '') return 'refresh_token is not a string';
    res.refresh_token = body.refresh_token;
  }
  if (body.refresh_expires_in !== undefined) {
    const refreshExpiresIn = parseSeconds(body.refresh_expires_in);
    if (refreshExpiresIn === undefined) return 'refresh_expires_in is not a positive number';
    res.refresh_expires_in = refreshExpiresIn;
  }
  if (typeof body.token_type === 'string') res.token_type = body.token_type;
  return undefined;
}

/**
 * Apply the platform's failure rule to an answer of `POST /oauth2/token`: parse the JSON whatever the status; it is
 * a failure when the status is not 2xx, or `code` is present and non-zero, or `access_token` is missing. Throws a
 * {@link WpsAuthError}: `wps_unavailable` for 5xx, 429 and malformed bodies, `wps_rejected` for refusals. `what`
 * names the request in messages ("code exchange"); `secrets` are redacted from anything WPS echoed.
 */
export function parseTokenResponse(status: number, raw: unknown, what: string, secrets: string[]): TokenResponse {
  const envelope = readEnvelope(raw, secrets);
  const { wpsCode, wpsMsg } = envelope ?? {};
  const details: WpsAuthErrorDetails = {
    ...(wpsCode !== undefined && { wpsCode }),
    ...(wpsMsg !== undefined && { wpsMsg }),
  };
  if (status >= 500 || status === 429) {
    throw new WpsAuthError('wps_unavailable', `WPS answered the ${what} with HTTP ${status}`, details);
  }
  if (envelope === undefined) throw malformed(what, status, 'not a JSON object');
  const body = envelope.json;
  const accessToken = body.access_token;
  if (status < 200 || status >= 300 || envelope.failed || typeof accessToken !== 'string' || accessToken === '') {
    const reason = wpsMsg ?? (envelope.failed || status >= 300 ? 'no message' : 'no access_token in the answer');
    const codeText = wpsCode !== undefined ? `, code ${wpsCode}` : '';
    throw new WpsAuthError('wps_rejected', `WPS rejected the ${what}: ${reason} (HTTP ${status}${codeText})`, details);
  }
  const expiresIn = parseSeconds(body.expires_in);
  if (expiresIn === undefined) throw malformed(what, status, 'expires_in is not a positive number');
  const res: TokenResponse = { access_token: accessToken, expires_in: expiresIn };
  const problem = optionalFields(body, res);
  if (problem !== undefined) throw malformed(what, status, problem);
  return res;
}
