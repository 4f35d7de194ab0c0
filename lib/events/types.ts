import type { Request } from 'express';
import type { WpsClock } from '../clock';
import type { WpsLogger, WpsTenants } from '../types';

/**
 * The payload types of the topics an app handles, by topic name, e.g.
 * `{ 'kso.app_chat.message': ChatMessage }`. Declaring them is a promise the app makes about what WPS sends:
 * the payload is decrypted and parsed as JSON, not checked against the type.
 */
export type WpsEventMap = Record<string, unknown>;

/** One event WPS pushed to the app, verified (signature, time window) and decrypted. */
export interface WpsEvent<Topic extends string = string, Data = unknown> {
  /** What happened, e.g. `'kso.app_chat.message'` (a bot received a message). */
  topic: Topic;
  /**
   * The kind of change, e.g. `'create'` or `'update'`. WPS does not sign this field (its signature covers the
   * APPID, topic, nonce, time and encrypted data only), so do not base a security decision on it alone.
   */
  operation: string;
  /** When WPS sent the event (the `time` field, whole seconds). */
  time: Date;
  /** The event's nonce (its first 16 bytes were the decryption IV). Unique per event in practice. */
  nonce: string;
  /** The decrypted `encrypted_data`, parsed as JSON. */
  data: Data;
}

/** The event of each declared topic, as a union discriminated by `topic`. */
export type WpsEventOf<M extends WpsEventMap> = {
  [T in keyof M & string]: WpsEvent<T, M[T]>;
}[keyof M & string];

/**
 * A handler of verified events. Its outcome decides the answer to WPS: resolved within `ackTimeoutMs` → 200,
 * thrown or rejected within `ackTimeoutMs` → 500 (and the event is forgotten, so a re-delivery runs it again),
 * still running at `ackTimeoutMs` → 200 (it keeps running; a later failure is logged). What it returns is awaited
 * (when a promise) and otherwise ignored.
 */
export type WpsEventHandler<E> = (event: E, req: Request) => unknown;

/**
 * Handlers by topic: each receives the events of its topic, with `data` typed as declared in `M`. Without
 * declared topics, any topic name, and `data: unknown`.
 */
export type WpsEventHandlers<M extends WpsEventMap> = string extends keyof M
  ? { [topic: string]: WpsEventHandler<WpsEvent> | undefined }
  : { [T in keyof M & string]?: WpsEventHandler<WpsEvent<T, M[T]>> | undefined };

/**
 * Remembers which events were handled, so that a re-delivered event does not run its handler twice. Keys are
 * opaque (derived from the event's signature). The default is in-process; `redisEventDedupe(client)` shares it
 * between instances.
 */
export interface WpsEventDedupe {
  /**
   * Remember `key` for `ttlMs` unless it is already remembered. Resolves `true` when this call remembered it (a
   * first delivery: run the handler), `false` when it was there already (a repeat: don't).
   */
  claim(key: string, ttlMs: number): Promise<boolean>;
  /** Forget `key`, so that the next delivery of the event runs its handler (called when the handler failed). */
  release(key: string): Promise<void>;
}

/** Options of {@link wpsEvents}. Every option is validated once, when `wpsEvents()` is called. */
export interface WpsEventsOptions<M extends WpsEventMap = WpsEventMap> {
  /**
   * The app's APPID: part of every event's signature.
   * @default process.env.WPS_CLIENT_ID
   */
  clientId?: string | undefined;
  /**
   * The app's APPKEY: it keys the signature and the encryption of events. Never appears in any message, log or
   * response.
   * @default process.env.WPS_CLIENT_SECRET
   */
  clientSecret?: string | undefined;
  /**
   * Handlers by topic. An event of a topic without a handler is answered 200 (after `onEvent`, if any).
   * @default {}
   * @example
   * import express from 'express';
   * import { wpsEvents } from 'express-wps-oauth';
   *
   * const app = express();
   * app.post(
   *   '/wps/events',
   *   wpsEvents({ on: { 'kso.app_chat.message': (event) => console.log(event.operation, event.data) } }),
   * );
   */
  on?: WpsEventHandlers<M> | undefined;
  /**
   * Runs for every verified, first-seen event, after the topic's handler has succeeded (not when it failed):
   * for logging or auditing. A failure counts as the handler's. Events of topics you did not declare arrive here
   * too, as `WpsEvent` with `data: unknown`.
   * @default none
   */
  onEvent?: WpsEventHandler<WpsEventOf<M> | WpsEvent> | undefined;
  /**
   * Events whose `time` is further than this from now, in the past or the future, are refused (401
   * `stale_event`): a captured event cannot be replayed later.
   * @default 300
   */
  maxAgeSeconds?: number | undefined;
  /**
   * How long to wait for the handler before answering WPS anyway (WPS waits 3 s). A handler still running then
   * keeps running; the answer is 200 and a later failure is only logged.
   * @default 2500
   */
  ackTimeoutMs?: number | undefined;
  /**
   * Largest request body accepted, in bytes; a larger one is refused (413) while it is read, never buffered.
   * @default 1048576
   */
  maxBodyBytes?: number | undefined;
  /**
   * Where handled events are remembered (for twice `maxAgeSeconds`), so that a re-delivery does not run the
   * handler again. Several instances behind one URL need a shared one: `redisEventDedupe(client)`.
   * @default in-process, at most 50,000 events
   */
  dedupe?: WpsEventDedupe | undefined;
  /**
   * Receives what the middleware has to say: topic, operation and a short reason; never the APPKEY, a signature
   * or event data.
   * @default silent
   */
  logger?: WpsLogger | undefined;
  /**
   * Where the replay window reads the time. Tests pass `createTestClock()` from `express-wps-oauth/testing`.
   * @default systemClock
   */
  clock?: WpsClock | undefined;
  /**
   * A marketplace (ISV) app's `wpsTenants()`: its handlers of `kso.app.ticket` (the newest ticket is stored) and
   * `kso.developer.application.authorization.status` (the company's state is stored, then its hook runs) run before
   * the app's own handler for those topics, which still runs. Its `clientId` must be this one. Without `dedupe`,
   * events are deduped in the tenant store, so that a hook runs once across the instances that share it.
   * @default none
   */
  tenants?: WpsTenants | undefined;
}
