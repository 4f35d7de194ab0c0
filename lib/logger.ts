import createDebug from 'debug';
import type { WpsLogger } from './types';

const trace = createDebug('express-wps-oauth');

function noop(): void {}

/** The default logger: says nothing. */
export const silentLogger: WpsLogger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });

type Level = keyof WpsLogger;

/**
 * Sends each line to the user's logger and to `DEBUG=express-wps-oauth`. Callers pass only non-secret facts
 * (error codes, session-id hashes, timings) — never a token, a code or the client secret.
 */
export function createLog(logger: WpsLogger): WpsLogger {
  const emit = (level: Level) => (message: string, meta?: Record<string, unknown>) => {
    // One argument when there is nothing more to say: `console` prints a second `undefined` argument as the word.
    if (meta === undefined) logger[level](`express-wps-oauth: ${message}`);
    else logger[level](`express-wps-oauth: ${message}`, meta);
    if (trace.enabled) trace('%s %s %o', level, message, meta ?? {});
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}
