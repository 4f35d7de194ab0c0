import type { Request, RequestHandler, Response } from 'express';
import { reasonOf } from '../errors';
import { createLog } from '../logger';
import { refusedUncalled } from '../uncalled';
import { ack, ANSWERS } from './answers';
import { resolveEventsConfig, type ResolvedEventsConfig } from './config';
import { EventVerifier } from './crypto';
import { createDedupeKeeper } from './dedupe';
import { loggable } from './envelope';
import { receiveEvent, type Receiver } from './receive';
import type { WpsEventMap, WpsEventsOptions } from './types';

const UNCALLED =
  "express-wps-oauth: it appears you have done something like `app.post('/wps/events', wpsEvents)`, " +
  "but it should be `app.post('/wps/events', wpsEvents({ on: { 'kso.app_chat.message': handler } }))`.";

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
 *   APPKEY, IV = the nonce's first 16 bytes) and parsed as JSON — all by the same code as `verifyWpsEvent`. Then
 *   the handler for its topic runs, then `onEvent`.
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
 * import express from 'express';
 * import { wpsEvents } from 'express-wps-oauth';
 *
 * interface ChatMessage {
 *   chat_id: string;
 *   text: string;
 * }
 *
 * const app = express();
 * app.post(
 *   '/wps/events',
 *   wpsEvents<{ 'kso.app_chat.message': ChatMessage }>({
 *     on: { 'kso.app_chat.message': (event) => console.log(event.data.chat_id, event.data.text) },
 *   }),
 * );
 */
export function wpsEvents<M extends WpsEventMap = WpsEventMap>(options?: WpsEventsOptions<M>): RequestHandler {
  // eslint-disable-next-line prefer-rest-params
  if (refusedUncalled(arguments, UNCALLED)) return undefined as unknown as RequestHandler;
  return createEventsMiddleware(resolveEventsConfig(options));
}

/**
 * The middleware of a resolved config: everything a request needs is built here, once. A feature of the library
 * that runs handlers of its own passes them to `resolveEventsConfig(options, env, internal)` and mounts this.
 * Internal.
 */
export function createEventsMiddleware(config: ResolvedEventsConfig): RequestHandler {
  const log = createLog(config.logger);
  const secrets = [config.clientSecret];
  const about = (e: { topic: string; operation: string }) => loggable(e, secrets);
  const { ackTimeoutMs, clock } = config;
  const receiver: Receiver = {
    log,
    about,
    maxBodyBytes: config.maxBodyBytes,
    ackTimeoutMs,
    verifier: new EventVerifier(config.clientId, config.clientSecret),
    maxAgeMs: config.maxAgeMs,
    clock,
    dedupe: createDedupeKeeper(config.dedupe, config.dedupeTtlMs, clock, log),
    dispatcher: { topics: config.topics, onEvent: config.onEvent, ackTimeoutMs, log, about },
  };
  return function wpsEventsMiddleware(req: Request, res: Response): void {
    receiveEvent(receiver, req, res).catch((err: unknown) => {
      log.error('event request failed unexpectedly', { reason: reasonOf(err) });
      ack(res, ANSWERS.internal);
    });
  };
}
