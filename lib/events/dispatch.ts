import type { Request } from 'express';
import { reasonOf } from '../errors';
import type { WpsLogger } from '../types';
import type { AnyEventHandler } from './config';
import type { WpsEvent } from './types';

/** What dispatching needs, resolved once at factory time. Internal. */
export interface Dispatcher {
  /** Every handler of each topic, in the order they run (the library's own, then the app's). */
  topics: ReadonlyMap<string, readonly AnyEventHandler[]>;
  /** Runs after the topic's handlers, when they all succeeded. */
  onEvent: AnyEventHandler | undefined;
  ackTimeoutMs: number;
  log: WpsLogger;
  /** Topic and operation as log lines show them. */
  about: (event: WpsEvent) => Record<string, unknown>;
}

/** How dispatching ended, as far as the answer goes. */
export type Dispatched =
  /** Every handler resolved within the ack window, or there was none: answer 200. */
  | { kind: 'done' }
  /** A handler threw or rejected within the ack window: answer 500, and forget the event. */
  | { kind: 'failed'; reason: string }
  /** Still running at the deadline: answer 200; it goes on alone, its outcome only logged. */
  | { kind: 'late' };

/** The topic's handlers one after the other, then `onEvent`: the first failure stops the rest. */
async function runHandlers(d: Dispatcher, handlers: readonly AnyEventHandler[], event: WpsEvent, req: Request) {
  for (const handler of handlers) await handler(event, req);
  if (d.onEvent !== undefined) await d.onEvent(event, req);
}

/** Log how a handler that outlived the ack window ended. Nobody awaits this, so it never rejects. */
function followLate(d: Dispatcher, settled: Promise<{ failed: boolean; reason?: string }>, event: WpsEvent): void {
  settled
    .then((later) => {
      if (later.failed) {
        d.log.error('event handler failed after the event was acknowledged', {
          ...d.about(event),
          reason: later.reason,
        });
      } else {
        d.log.debug('event handler finished after the event was acknowledged', d.about(event));
      }
    })
    // Even a logger that throws must not become an unhandled rejection.
    .catch(() => {});
}

/**
 * Run the handlers of a verified, first-seen event until `deadline` (epoch ms, real time: the ack timer is a
 * real timer whatever clock the replay window reads). Never rejects.
 */
export async function dispatchEvent(
  d: Dispatcher,
  event: WpsEvent,
  req: Request,
  deadline: number,
): Promise<Dispatched> {
  const handlers = d.topics.get(event.topic) ?? [];
  if (handlers.length === 0 && d.onEvent === undefined) {
    d.log.debug('event acknowledged: no handler for its topic', d.about(event));
    return { kind: 'done' };
  }
  const settled = runHandlers(d, handlers, event, req).then(
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
    d.log.warn(
      `event acknowledged after ackTimeoutMs (${d.ackTimeoutMs} ms); its handler is still running`,
      d.about(event),
    );
    followLate(d, settled, event);
    return { kind: 'late' };
  }
  if (outcome.failed) return { kind: 'failed', reason: outcome.reason };
  d.log.debug('event handled', d.about(event));
  return { kind: 'done' };
}
