/**
 * An error answer in WPS's envelope (`{ code, msg, debug: { desc } }`): handlers throw it, the server sends it, so a
 * refusal is one line where it is decided.
 */
export class WpsHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    readonly msg: string,
    readonly desc: string,
  ) {
    super(desc);
  }
}

/** 400 `invalid_request`: a parameter is missing, repeated or malformed. */
export const invalidRequest = (desc: string) => new WpsHttpError(400, 40000001, 'invalid_request', desc);

/** 401 `invalid_client`: the APPID or APPKEY is wrong; the answer never says which. */
export const invalidClient = () =>
  new WpsHttpError(401, 40000002, 'invalid_client', 'client_id or client_secret is wrong');

/** 400 `invalid_grant`: the code or refresh token is unknown, used, expired or for another callback. */
export const invalidGrant = (desc: string) => new WpsHttpError(400, 40000003, 'invalid_grant', desc);

/** 401 `invalid_token`: the access token is missing, unknown, expired or of the wrong kind. */
export const invalidToken = (desc: string) => new WpsHttpError(401, 40100001, 'invalid_token', desc);

/** 401 `invalid_signature`: a strict-mode request without a valid KSO-1 signature. */
export const invalidSignature = (desc: string) => new WpsHttpError(401, 40100002, 'invalid_signature', desc);

/** 403 `access_denied`: the user declined the app in the client (the stub bridge with `clientAccess: 'deny'`). */
export const accessDenied = () =>
  new WpsHttpError(403, 40300001, 'access_denied', 'the user declined to sign in to the app');
