import express from 'express';
import request from 'supertest';
import { resolveEventsConfig, type AnyEventHandler } from '../../lib/events/config';
import { createEventsMiddleware } from '../../lib/events/wps-events';
import type { WpsEvent } from '../../lib';
import { signWpsEvent } from '../../lib/testing';
import { CREDENTIALS } from './helpers';

// The seam for the library's own handlers (e.g. a later feature that stores kso.app.ticket events): handlers
// passed to resolveEventsConfig as `internal` run for their topic in addition to, and before, the app's.

describe('handlers the library adds for a topic', () => {
  const ran: string[] = [];
  let libraryFails = false;
  const library: AnyEventHandler = (event) => {
    ran.push(`library ${event.topic}`);
    if (libraryFails) throw new Error('store unavailable');
  };
  const config = resolveEventsConfig(
    {
      ...CREDENTIALS,
      on: { 'kso.app.ticket': (event: WpsEvent) => void ran.push(`app ${event.topic}`) },
      onEvent: (event: WpsEvent) => void ran.push(`onEvent ${event.topic}`),
    },
    {},
    new Map([
      ['kso.app.ticket', [library]],
      ['kso.developer.application.authorization.status', [library]],
    ]),
  );
  const app = express().post('/wps/events', createEventsMiddleware(config));
  const send = (topic: string) =>
    request(app)
      .post('/wps/events')
      .send(signWpsEvent({ topic, operation: 'create', data: { app_id: 'a' } }, CREDENTIALS));

  beforeEach(() => {
    ran.length = 0;
    libraryFails = false;
  });

  it('are listed before the app’s own in the resolved config', () => {
    expect(config.topics.get('kso.app.ticket')).toEqual([library, config.handlers.get('kso.app.ticket')]);
    expect(config.topics.get('kso.developer.application.authorization.status')).toEqual([library]);
    expect(config.handlers.size).toBe(1);
  });

  it('run before the app’s handler, then onEvent; a topic the app does not handle still runs them', async () => {
    await send('kso.app.ticket').expect(200, { code: 0 });
    await send('kso.developer.application.authorization.status').expect(200, { code: 0 });
    expect(ran).toEqual([
      'library kso.app.ticket',
      'app kso.app.ticket',
      'onEvent kso.app.ticket',
      'library kso.developer.application.authorization.status',
      'onEvent kso.developer.application.authorization.status',
    ]);
  });

  it('count as the event’s handlers: one that fails answers 500, stops the rest, and the re-delivery runs them', async () => {
    libraryFails = true;
    const body = signWpsEvent({ topic: 'kso.app.ticket', operation: 'update', data: {} }, CREDENTIALS);
    await request(app).post('/wps/events').send(body).expect(500, { error: 'handler_failed' });
    expect(ran).toEqual(['library kso.app.ticket']);
    libraryFails = false;
    await request(app).post('/wps/events').send(body).expect(200, { code: 0 });
    expect(ran).toEqual([
      'library kso.app.ticket',
      'library kso.app.ticket',
      'app kso.app.ticket',
      'onEvent kso.app.ticket',
    ]);
  });
});
