import type { Response } from 'express';
import type { WpsEventErrorCode } from '../errors';

/** Every answer `wpsEvents` gives, by name: status and JSON body. */
export const ANSWERS = {
  ok: [200, { code: 0 }],
  handlerFailed: [500, { error: 'handler_failed' }],
  invalidSignature: [401, { error: 'invalid_signature' }],
  staleEvent: [401, { error: 'stale_event' }],
  invalidEvent: [400, { error: 'invalid_event' }],
  tooLarge: [413, { error: 'too_large' }],
  methodNotAllowed: [405, { error: 'method_not_allowed' }],
  internal: [500, { error: 'internal_error' }],
} as const satisfies Record<string, readonly [number, object]>;

/** One of {@link ANSWERS}. */
export type Answer = (typeof ANSWERS)[keyof typeof ANSWERS];

/** The answer to WPS's URL check: the challenge, echoed. */
export type ChallengeAnswer = readonly [200, { challenge: string }];

/** The answer to each refusal of the verifier: the same status and code as the `WpsEventError` it would throw. */
export const REFUSALS: Readonly<Record<WpsEventErrorCode, Answer>> = {
  invalid_signature: ANSWERS.invalidSignature,
  stale_event: ANSWERS.staleEvent,
  invalid_event: ANSWERS.invalidEvent,
};

/** Answer, unless an answer went out already or the client is gone. */
export function ack(res: Response, [status, body]: Answer | ChallengeAnswer): void {
  if (res.headersSent || res.destroyed) return;
  res.status(status).json(body);
}
