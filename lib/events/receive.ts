import type { Request, Response } from 'express';
import type { WpsClock } from '../clock';
import { cleanExternalText } from '../errors';
import type { WpsLogger } from '../types';
import { ack, ANSWERS, REFUSALS, type Answer } from './answers';
import { readBody, type BodyOutcome } from '../read-body';
import type { EventVerifier } from './crypto';
import { dedupeKey, type DedupeKeeper } from './dedupe';
import { dispatchEvent, type Dispatcher } from './dispatch';
import { checkEvent, checkRawEvent, type Verdict } from './verify';

/** Everything one event request needs, resolved once at factory time. Internal. */
export interface Receiver {
  log: WpsLogger;
  /** Topic and operation as log lines show them. */
  about: (e: { topic: string; operation: string }) => Record<string, unknown>;
  maxBodyBytes: number;
  ackTimeoutMs: number;
  verifier: EventVerifier;
  maxAgeMs: number;
  /** Where the replay window reads the time. */
  clock: WpsClock;
  dedupe: DedupeKeeper;
  dispatcher: Dispatcher;
}

/** What was read: the raw bytes, or what a body parser in front of the middleware left in `req.body`. */
type Received = BodyOutcome & { kind: 'bytes' | 'parsed' };

/** Read the body; `undefined` when it was answered already (too large) or there is nobody to answer. */
async function read(r: Receiver, req: Request, res: Response): Promise<Received | undefined> {
  const body = await readBody(req, r.maxBodyBytes);
  if (body.kind === 'gone') {
    r.log.debug('event request aborted by the client before its body was complete');
    return undefined;
  }
  if (body.kind === 'too_large') {
    r.log.warn(`event refused: the body is over maxBodyBytes (${r.maxBodyBytes})`);
    res.set('Connection', 'close');
    ack(res, ANSWERS.tooLarge);
    return undefined;
  }
  return body;
}

/** Verify what was read: a parsed body verifies as well as the bytes, since the signature covers fields. */
function verify(r: Receiver, body: Received): Verdict {
  const now = r.clock.now();
  return body.kind === 'bytes'
    ? checkRawEvent(body.bytes, r.verifier, r.maxAgeMs, now)
    : checkEvent(body.value, r.verifier, r.maxAgeMs, now);
}

/** Log why an event was refused: the reason, and the topic, operation and skew when there are any. */
function logRefusal(r: Receiver, verdict: Verdict & { kind: 'refused' }): void {
  const { envelope, skewSeconds, reason } = verdict;
  const meta =
    envelope === undefined ? undefined : { ...r.about(envelope), ...(skewSeconds !== undefined && { skewSeconds }) };
  r.log.warn(`event refused: ${reason}`, meta);
}

/** Claim, then dispatch: a repeat is acknowledged at once; a failed first delivery is forgotten again. */
async function claimAndDispatch(
  r: Receiver,
  verdict: Verdict & { kind: 'event' },
  req: Request,
  deadline: number,
): Promise<Answer> {
  const { event } = verdict;
  const claim = await r.dedupe.claim(dedupeKey(verdict.signature));
  if (!claim.first) {
    r.log.debug('event already handled: repeat acknowledged, handler not run', r.about(event));
    return ANSWERS.ok;
  }
  const outcome = await dispatchEvent(r.dispatcher, event, req, deadline);
  if (outcome.kind !== 'failed') return ANSWERS.ok;
  await r.dedupe.release(claim);
  r.log.error('event handler failed: answered 500, so that a re-delivery runs it again', {
    ...r.about(event),
    reason: outcome.reason,
  });
  return ANSWERS.handlerFailed;
}

/**
 * One event request, start to answer: read → verify → claim (dedupe) → dispatch → ack. Every outcome is an
 * answer of {@link ANSWERS}; it rejects only on a bug (the middleware answers `internal_error` then).
 */
export async function receiveEvent(r: Receiver, req: Request, res: Response): Promise<void> {
  const deadline = Date.now() + r.ackTimeoutMs;
  if (req.method !== 'POST') {
    res.set('Allow', 'POST');
    r.log.debug('event request refused: method not allowed', { method: cleanExternalText(req.method, 20) });
    ack(res, ANSWERS.methodNotAllowed);
    return;
  }
  const body = await read(r, req, res);
  if (body === undefined) return;
  const verdict = verify(r, body);
  if (verdict.kind === 'challenge') {
    r.log.info('URL check answered');
    ack(res, [200, { challenge: verdict.challenge }]);
  } else if (verdict.kind === 'refused') {
    logRefusal(r, verdict);
    ack(res, REFUSALS[verdict.code]);
  } else {
    ack(res, await claimAndDispatch(r, verdict, req, deadline));
  }
}
