import type express from 'express';
import { signWpsEvent } from '../../lib/testing';
import { CREDENTIALS, PARSERS, postJson, startEventsApp, waitFor, type EventsServer } from './helpers';

const ACK_MS = 300;

describe.each(PARSERS)('ackTimeoutMs %s', (_label, json) => {
  let s: EventsServer;
  const started: string[] = [];
  const finished: string[] = [];
  /** How long the server took from the request's arrival to its answer, as seen by the server. */
  const serverMs: number[] = [];
  /** The slow handlers run until the test lets them finish: an answer that waited for them cannot come first. */
  let letHandlersFinish = () => {};
  beforeEach(async () => {
    started.length = 0;
    finished.length = 0;
    serverMs.length = 0;
    const handlersMayFinish = new Promise<void>((resolve) => (letHandlersFinish = resolve));
    const timing = (app: express.Express) =>
      app.use((_req, res, next) => {
        const arrived = Date.now();
        res.on('finish', () => serverMs.push(Date.now() - arrived));
        next();
      });
    s = await startEventsApp(
      json,
      {
        ackTimeoutMs: ACK_MS,
        on: {
          'slow.fails': async () => {
            started.push('slow.fails');
            await handlersMayFinish;
            finished.push('slow.fails');
            throw new Error('failed late');
          },
          'slow.succeeds': async () => {
            started.push('slow.succeeds');
            await handlersMayFinish;
            finished.push('slow.succeeds');
          },
        },
      },
      timing,
    );
  });
  afterEach(() => {
    letHandlersFinish();
    return s.close();
  });

  // Real time: the ack comes from wpsEvents' own ackTimeoutMs timer, which no clock of ours moves, and the answer's
  // timing is what this test is about. The handlers are not timed: they finish when the test lets them.
  it('answers 200 within ackTimeoutMs + 100 ms while the handler runs on; its later failure is logged', async () => {
    const body = signWpsEvent({ topic: 'slow.fails', operation: 'create', data: { n: 1 } }, CREDENTIALS);
    const reply = await postJson(s.url, body);
    expect([reply.status, reply.body]).toEqual([200, { code: 0 }]);
    // The server answered within ackTimeoutMs + 100 ms of the request's arrival, while the handler it started was
    // still held.
    expect(serverMs).toHaveLength(1);
    expect(serverMs[0]).toBeGreaterThanOrEqual(ACK_MS - 5);
    expect(serverMs[0]).toBeLessThan(ACK_MS + 100);
    expect([started, finished]).toEqual([['slow.fails'], []]);
    letHandlersFinish();
    await waitFor(() => finished.length === 1);
    await waitFor(() => s.logger.lines.some((l) => l.includes('failed after')));
    expect(s.logger.lines.filter((l) => l.includes('slow.fails'))).toEqual([
      'warn express-wps-oauth: event acknowledged after ackTimeoutMs (300 ms); its handler is still running {"topic":"slow.fails","operation":"create"}',
      'error express-wps-oauth: event handler failed after the event was acknowledged {"topic":"slow.fails","operation":"create","reason":"Error"}',
    ]);
    // Acknowledged, so remembered: a re-delivery does not run it again (a handler that ran would have started, and
    // — no longer held — finished, before the answer).
    expect((await postJson(s.url, body)).body).toEqual({ code: 0 });
    expect([started, finished]).toEqual([['slow.fails'], ['slow.fails']]);
  });

  it('logs a late success at debug level, and onEvent runs after it', async () => {
    const body = signWpsEvent({ topic: 'slow.succeeds', operation: 'update', data: {} }, CREDENTIALS);
    const reply = await postJson(s.url, body);
    expect([reply.status, serverMs[0] !== undefined && serverMs[0] < ACK_MS + 100]).toEqual([200, true]);
    expect([started, finished]).toEqual([['slow.succeeds'], []]);
    expect(s.seen).toEqual([]);
    letHandlersFinish();
    await waitFor(() => s.logger.lines.some((l) => l.includes('finished after')));
    expect(s.seen.map((e) => e.topic)).toEqual(['slow.succeeds']);
  });
});
