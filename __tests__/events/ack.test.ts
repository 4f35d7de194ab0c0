import { signWpsEvent } from '../../lib/testing';
import { CREDENTIALS, PARSERS, postJson, startEventsApp, wait, waitFor, type EventsServer } from './helpers';

const ACK_MS = 300;

describe.each(PARSERS)('ackTimeoutMs %s', (_label, json) => {
  let s: EventsServer;
  const finished: string[] = [];
  beforeEach(async () => {
    finished.length = 0;
    s = await startEventsApp(json, {
      ackTimeoutMs: ACK_MS,
      on: {
        'slow.fails': async () => {
          await wait(ACK_MS + 300);
          finished.push('slow.fails');
          throw new Error('failed late');
        },
        'slow.succeeds': async () => {
          await wait(ACK_MS + 300);
          finished.push('slow.succeeds');
        },
      },
    });
  });
  afterEach(() => s.close());

  it('answers 200 within ackTimeoutMs + 100 ms while the handler runs on; its later failure is logged', async () => {
    const body = signWpsEvent({ topic: 'slow.fails', operation: 'create', data: { n: 1 } }, CREDENTIALS);
    const reply = await postJson(s.url, body);
    expect([reply.status, reply.body]).toEqual([200, { code: 0 }]);
    expect(reply.ms).toBeGreaterThanOrEqual(ACK_MS - 5);
    expect(reply.ms).toBeLessThan(ACK_MS + 100);
    expect(finished).toEqual([]);
    await waitFor(() => finished.length === 1);
    await waitFor(() => s.logger.lines.some((l) => l.includes('failed after')));
    expect(s.logger.lines.filter((l) => l.includes('slow.fails'))).toEqual([
      'warn express-wps-oauth: event acknowledged after ackTimeoutMs (300 ms); its handler is still running {"topic":"slow.fails","operation":"create"}',
      'error express-wps-oauth: event handler failed after the event was acknowledged {"topic":"slow.fails","operation":"create","reason":"Error"}',
    ]);
    // Acknowledged, so remembered: a re-delivery does not run it again.
    expect((await postJson(s.url, body)).body).toEqual({ code: 0 });
    await wait(ACK_MS + 400);
    expect(finished).toEqual(['slow.fails']);
  });

  it('logs a late success at debug level, and onEvent runs after it', async () => {
    const body = signWpsEvent({ topic: 'slow.succeeds', operation: 'update', data: {} }, CREDENTIALS);
    const reply = await postJson(s.url, body);
    expect([reply.status, reply.ms < ACK_MS + 100]).toEqual([200, true]);
    expect(s.seen).toEqual([]);
    await waitFor(() => s.logger.lines.some((l) => l.includes('finished after')));
    expect(s.seen.map((e) => e.topic)).toEqual(['slow.succeeds']);
  });
});
