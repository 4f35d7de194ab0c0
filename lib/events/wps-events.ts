import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { cleanExternalText } from '../errors';
import { refusedUncalled } from '../uncalled';
import { createLog } from '../logger';
import { readEventBody } from './body';
import { resolveEventsConfig, type AnyEventHandler } from './config';
import { reasonOf } from '../errors';
import { createMemoryEventDedupe, DedupeKeeper, MEMORY_DEDUPE_MAX_EVENTS } from './dedupe';
import type { WpsEvent, WpsEventMap, WpsEventsOptions } from './types';
import { EventVerifier, parseEnvelope, type SignedEnvelope } from './verify';

const UNCALLED =
  "express-wps-oauth: it appears you have done something like `app.post('/wps/events', wpsEvents)`, " +
  "but it should be `app.post('/wps/events', wpsEvents({ on: { 'kso.app_chat.message': handler } }))`.";

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Every answer the middleware gives, by name. */
const ANSWERS = {
  ok: [200, { code: 0 }],
  handlerFailed: [500, { error: 'handler_failed' }],
  invalidSignature: [401, { error: 'invalid_signature' }],
  staleEvent: [401, { error: 'stale_event' }],
  invalidEvent: [400, { error: 'invalid_event' }],
  tooLarge: [413, { error: 'too_large' }],
  methodNotAllowed: [405, { error: 'method_not_allowed' }],
  internal: [500, { error: 'internal_error' }],
} as const satisfies Record<string, readonly [number, object]>;

type Answer = (typeof ANSWERS)[keyof typeof ANSWERS];

function send(res: Response, [status, body]: Answer | readonly [200, { challenge: string }]): void {
  if (res.headersSent || res.destroyed) return;
  res.status(status).json(body);
}

/**
 * Receives the events WPS pushes to the app (developer console → 事件与回调), as a route handler:
 * `app.post('/wps/events', wpsEvents({ on: { … } }))`.
 *
 * - **URL check**: WPS POSTs `{"challenge": "<string>"}` and expects the same back within 1 s, with HTTP 200;
 *   only then are events delivered. Answered here, before any handler.
 * - **Events**: WPS POSTs `{"topic", "operation", "time", "nonce", "signature", "encrypted_data"}` and expects
 *   HTTP 200 within 3 s. Each is verified before any handler runs: the signature (base64url without padding of
 *   HMAC-SHA256 keyed with the APPKEY over `APPID:topic:nonce:time:encrypted_data`, compared in constant time),
 *   `time` within `maxAgeSeconds` of now, then `encrypted_data` decrypted (AES-256-CBC, key = hex MD5 of the
 *   APPKEY, IV = the nonce's first 16 bytes) and parsed as JSON. Then the handler for its topic runs, then
 *   `onEvent`.
 * - **Re-delivery** is not documented by WPS: the same event may arrive more than once. Each handled event is
 *   remembered (by its signature, for `2 × maxAgeSeconds`) and a repeat is answered 200 without running the
 *   handler again; a handler that fails within `ackTimeoutMs` is answered 500 and the event forgotten, so that a
 *   re-delivery runs it.
 *
 * Works with or without `express.json()` (or another body parser) mounted first. Answers are JSON: 200
 * `{"code": 0}`, 500 `{"error": "handler_failed"}`, 401 `invalid_signature` / `stale_event`, 400
 * `invalid_event`, 413 `too_large`, 405 `method_not_allowed`. It never calls `next(err)` and never rejects.
 *
 * @example
 * app.post('/wps/events', wpsEvents<{ 'kso.app_chat.message': ChatMessage }>({
 *   on: { 'kso.app_chat.message': async (event) => { await reply(event.data) } },
 * }));
 */
export function wpsEvents<M extends WpsEventMap = WpsEventMap>(options?: WpsEventsOptions<M>): RequestHandler {
  // eslint-disable-next-line prefer-rest-params
  if (refusedUncalled(arguments, UNCALLED)) return undefined as unknown as RequestHandler;
  const config = resolveEventsConfig(options);
  const log = createLog(config.logger);
  const verifier = new EventVerifier(config.clientId, config.clientSecret);
  const secrets = [config.clientSecret];
  let evictionLogged = false;
  const store =
    config.dedupe ??
    createMemoryEventDedupe(config.clock, MEMORY_DEDUPE_MAX_EVENTS, () => {
      if (evictionLogged) return;
      evictionLogged = true;
      log.warn(
        `event dedupe full (${MEMORY_DEDUPE_MAX_EVENTS} events): the oldest are forgotten early, ` +
          'so their re-deliveries may run again; use redisEventDedupe(client) at this rate',
      );
    });
  const dedupe = new DedupeKeeper(store, config.dedupeTtlMs, config.clock, log);
  const { handlers, onEvent, ackTimeoutMs, maxAgeMs, maxBodyBytes } = config;

  /** Topic and operation for a log line: bounded, printable, never the APPKEY (they are not verified yet). */
  function about(e: SignedEnvelope): Record<string, unknown> {
    return { topic: cleanExternalText(e.topic, 100, secrets), operation: cleanExternalText(e.operation, 100, secrets) };
  }

  async function run(handler: AnyEventHandler | undefined, event: WpsEvent, req: Request): Promise<void> {
    if (handler !== undefined) await handler(event, req);
    if (onEvent !== undefined) await onEvent(event, req);
  }

  /** Run the handlers until `deadline`; a handler still running then goes on alone, its outcome only logged. */
  async function dispatch(e: SignedEnvelope, data: unknown, req: Request, deadline: number): Promise<Answer> {
    const key = createHash('sha256').update(e.signature).digest('base64url');
    const claim = await dedupe.claim(key);
    if (!claim.first) {
      log.debug('event already handled: repeat acknowledged, handler not run', about(e));
      return ANSWERS.ok;
    }
    const handler = handlers.get(e.topic);
    if (handler === undefined && onEvent === undefined) {
      log.debug('event acknowledged: no handler for its topic', about(e));
      return ANSWERS.ok;
    }
    const event: WpsEvent = {
      topic: e.topic,
      operation: e.operation,
      time: new Date(e.time * 1000),
      nonce: e.nonce,
      data,
    };
    const settled = run(handler, event, req).then(
      () => ({ failed: false as const }),
      (err: unknown) => ({ failed: true as const, reason: reasonOf(err) }),
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), Math.max(0, deadline - Date.now()));
    });
    const outcome = await Promise.race([settled, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      log.warn(`event acknowledged after ackTimeoutMs (${ackTimeoutMs} ms); its handler is still running`, about(e));
      settled
        .then((later) => {
          if (later.failed) {
            log.error('event handler failed after the event was acknowledged', { ...about(e), reason: later.reason });
          } else {
            log.debug('event handler finished after the event was acknowledged', about(e));
          }
        })
        // Nobody awaits this: even a logger that throws must not become an unhandled rejection.
        .catch(() => {});
      return ANSWERS.ok;
    }
    if (outcome.failed) {
      await dedupe.release(claim);
      log.error('event handler failed: answered 500, so that a re-delivery runs it again', {
        ...about(e),
        reason: outcome.reason,
      });
      return ANSWERS.handlerFailed;
    }
    log.debug('event handled', about(e));
    return ANSWERS.ok;
  }

  async function handle(req: Request, res: Response): Promise<void> {
    const deadline = Date.now() + ackTimeoutMs;
    if (req.method !== 'POST') {
      res.set('Allow', 'POST');
      log.debug('event request refused: method not allowed', { method: cleanExternalText(req.method, 20) });
      send(res, ANSWERS.methodNotAllowed);
      return;
    }
    const body = await readEventBody(req, maxBodyBytes);
    if (body.kind === 'gone') {
      log.debug('event request aborted by the client before its body was complete');
      return;
    }
    if (body.kind === 'too_large') {
      log.warn(`event refused: the body is over maxBodyBytes (${maxBodyBytes})`);
      res.set('Connection', 'close');
      send(res, ANSWERS.tooLarge);
      return;
    }
    let parsed: unknown = body.kind === 'parsed' ? body.value : undefined;
    if (body.kind === 'bytes') {
      try {
        parsed = JSON.parse(UTF8.decode(body.bytes));
      } catch {
        log.warn('event refused: the body is not UTF-8 JSON');
        send(res, ANSWERS.invalidEvent);
        return;
      }
    }
    const envelope = parseEnvelope(parsed);
    if (envelope.kind === 'challenge') {
      log.info('URL check answered');
      send(res, [200, { challenge: envelope.challenge }]);
      return;
    }
    if (envelope.kind === 'invalid') {
      log.warn(`event refused: ${envelope.reason}`);
      send(res, ANSWERS.invalidEvent);
      return;
    }
    const e = envelope.envelope;
    if (!verifier.signatureMatches(e)) {
      log.warn(
        "event refused: the signature does not match (are clientId and clientSecret this app's APPID and APPKEY?)",
        about(e),
      );
      send(res, ANSWERS.invalidSignature);
      return;
    }
    const skewMs = config.clock.now() - e.time * 1000;
    if (Math.abs(skewMs) > maxAgeMs) {
      log.warn(
        `event refused: its time is more than maxAgeSeconds (${maxAgeMs / 1000}) from now; is this clock right?`,
        {
          ...about(e),
          skewSeconds: Math.round(skewMs / 1000),
        },
      );
      send(res, ANSWERS.staleEvent);
      return;
    }
    const opened = verifier.decrypt(e);
    if (!opened.ok) {
      log.warn(`event refused: ${opened.reason}`, about(e));
      send(res, ANSWERS.invalidEvent);
      return;
    }
    send(res, await dispatch(e, opened.data, req, deadline));
  }

  return function wpsEventsMiddleware(req: Request, res: Response): void {
    handle(req, res).catch((err: unknown) => {
      log.error('event request failed unexpectedly', { reason: reasonOf(err) });
      send(res, ANSWERS.internal);
    });
  };
}
