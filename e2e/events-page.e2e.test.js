/* global describe, test, expect, beforeAll, afterAll, afterEach, jest */
'use strict';

// The example's events side without a browser: its POST /wps/events and the Events page, in demo mode and in
// real-WPS mode. Real-WPS mode only renders pages here: nothing is sent to openapi.wps.cn, every request goes to
// the app on 127.0.0.1 (supertest).

const request = require('supertest');
const { signWpsEvent, sendWpsChallenge } = require('express-wps-oauth/testing');
const { createApp } = require('../examples/basic/app');

const REAL_ENV = {
  NODE_ENV: 'production',
  SESSION_SECRET: 'events-test-session-secret',
  WPS_CLIENT_ID: 'events-test-app-id',
  WPS_CLIENT_SECRET: 'events-test-app-key-never-shown',
  WPS_REDIRECT_URI: 'https://app.example.com/auth/wps/callback',
};
const REAL_CREDENTIALS = { clientId: REAL_ENV.WPS_CLIENT_ID, clientSecret: REAL_ENV.WPS_CLIENT_SECRET };
const MESSAGE = { topic: 'kso.app_chat.message', operation: 'create', data: { chat_id: 'c1', text: 'secret plans' } };

/** The text of the page's <main>, tags removed and white space collapsed. */
function mainText(html) {
  const main = /<main[^>]*>([\s\S]*)<\/main>/.exec(html)?.[1] ?? '';
  return main
    .replace(/<[^>]+>/g, '')
    .replace(/&#34;/g, '"')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The topics listed on the Events page, top first. */
function listedTopics(html) {
  return [...html.matchAll(/<code class="topic">([^<]*)<\/code>/g)].map((m) => m[1]);
}

afterEach(() => jest.restoreAllMocks());

describe('the Events page with the real WPS (WPS_* set; nothing sent to WPS)', () => {
  let example;
  let logged;

  beforeAll(async () => {
    example = await createApp({ port: 0, env: REAL_ENV });
  });

  afterAll(async () => {
    await example?.close();
  });

  /** Capture what the app writes to the console (the events logger), for the test to read. */
  function captureConsole() {
    logged = [];
    for (const level of ['log', 'info', 'warn', 'error']) {
      jest.spyOn(console, level).mockImplementation((...args) => logged.push(args.join(' ')));
    }
  }

  test('names the URL to register under 事件与回调 and the URL check; no test button; an empty state', async () => {
    expect(example.fake).toBeUndefined();
    const res = await request(example.app).get('/events').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('<code id="events-url">https://app.example.com/wps/events</code>');
    expect(res.text).toContain('<span lang="zh-CN">事件与回调</span>');
    expect(mainText(res.text)).toContain(
      'When you save it, WPS first sends a URL check ({"challenge": "…"}), which this route answers automatically',
    );
    expect(res.text).toContain('<a href="/events" aria-current="page">Events</a>');
    expect(res.text).toContain('id="no-events"');
    expect(res.text).not.toContain('send-test-event');
    expect(res.text).not.toContain('Send a test event');
    expect(res.text).not.toContain('public HTTPS address');
    // No demo route with the real WPS.
    await request(example.app).post('/events/test').expect(404);
  });

  test('POST /wps/events answers the URL check and takes an event signed with the APPKEY', async () => {
    captureConsole();
    const challenge = await request(example.app).post('/wps/events').send({ challenge: 'check-123' });
    expect(challenge.status).toBe(200);
    expect(challenge.body).toEqual({ challenge: 'check-123' });

    const event = await request(example.app).post('/wps/events').send(signWpsEvent(MESSAGE, REAL_CREDENTIALS));
    expect(event.status).toBe(200);
    expect(event.body).toEqual({ code: 0 });
    expect(logged).toEqual(['express-wps-oauth: URL check answered']);
  });

  test('the page lists the event with its fields, not their values', async () => {
    const res = await request(example.app).get('/events').expect(200);
    expect(listedTopics(res.text)).toEqual(['kso.app_chat.message']);
    expect(mainText(res.text)).toContain('Bot received a message: fields: chat_id, text');
    expect(res.text).not.toContain('secret plans');
    expect(res.text).not.toContain('id="no-events"');
  });

  test('an event signed with another key is refused (401) and logged without the APPKEY', async () => {
    captureConsole();
    const forged = signWpsEvent(MESSAGE, { ...REAL_CREDENTIALS, clientSecret: 'another-app-key' });
    const res = await request(example.app).post('/wps/events').send(forged);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_signature' });
    expect(logged).toEqual([
      'express-wps-oauth: event refused: the signature does not match (are clientId and clientSecret this ' +
        'app\'s APPID and APPKEY?) {"topic":"kso.app_chat.message","operation":"create"}',
    ]);
    expect(logged.join('\n')).not.toContain(REAL_ENV.WPS_CLIENT_SECRET);
    expect(logged.join('\n')).not.toContain('another-app-key');
    const page = await request(example.app).get('/events');
    expect(listedTopics(page.text)).toEqual(['kso.app_chat.message']);
  });

  test('GET /wps/events answers 405 with Allow: POST, not the 404 page', async () => {
    const res = await request(example.app).get('/wps/events');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(res.body).toEqual({ error: 'method_not_allowed' });
  });

  test('with an http:// redirect URI, the page says WPS needs a public HTTPS address', async () => {
    const plain = await createApp({
      port: 0,
      env: { ...REAL_ENV, WPS_REDIRECT_URI: 'http://app.example.com:8080/auth/wps/callback' },
    });
    try {
      const res = await request(plain.app).get('/events').expect(200);
      expect(res.text).toContain('<code id="events-url">http://app.example.com:8080/wps/events</code>');
      expect(mainText(res.text)).toContain(
        'WPS needs a public HTTPS address: run the app behind one (a reverse proxy or a tunnel) and register that.',
      );
    } finally {
      await plain.close();
    }
  });
});

describe('the Events page in demo mode (fake WPS), without a browser', () => {
  let example;
  let eventsUrl;

  beforeAll(async () => {
    example = await createApp({ port: 0, env: { NODE_ENV: 'production', SESSION_SECRET: 'events-test-secret' } });
    eventsUrl = `http://127.0.0.1:${new URL(example.url).port}/wps/events`;
  });

  afterAll(async () => {
    await example?.close();
  });

  test('each topic gets its summary, newest first, with the demo data shown', async () => {
    const send = (event) => example.fake.sendEvent(eventsUrl, event);
    jest.spyOn(console, 'info').mockImplementation(() => {});
    expect(await sendWpsChallenge(eventsUrl, 'demo-check')).toEqual({
      status: 200,
      body: { challenge: 'demo-check' },
    });
    expect(await send(MESSAGE)).toEqual({ status: 200, body: { code: 0 } });
    expect(
      await send({
        topic: 'kso.developer.application.subject',
        operation: 'update',
        data: { company_id: 'co-1', app_id: 'demo-client-id' },
      }),
    ).toEqual({ status: 200, body: { code: 0 } });
    expect(await send({ topic: 'kso.some.other', operation: 'delete', data: { id: 7 } })).toEqual({
      status: 200,
      body: { code: 0 },
    });

    const res = await request(example.app).get('/events').expect(200);
    expect(listedTopics(res.text)).toEqual([
      'kso.some.other',
      'kso.developer.application.subject',
      'kso.app_chat.message',
    ]);
    const text = mainText(res.text);
    expect(text).toContain('kso.some.other delete');
    expect(text).toContain('Event: {"id":7}');
    expect(text).toContain('App visibility changed: company co-1, app demo-client-id');
    expect(text).toContain('Bot received a message: “secret plans”');
  });

  test('the page keeps the last 20 events', async () => {
    for (let i = 1; i <= 25; i += 1) {
      const reply = await example.fake.sendEvent(eventsUrl, { ...MESSAGE, data: { text: `message ${i}` } });
      expect(reply.status).toBe(200);
    }
    const res = await request(example.app).get('/events').expect(200);
    expect(listedTopics(res.text)).toHaveLength(20);
    expect(res.text).toContain('“message 25”');
    expect(res.text).toContain('“message 6”');
    expect(res.text).not.toContain('“message 5”');
  });

  test('POST /events/test redirects back (303) and the notice shows the answer once', async () => {
    const agent = request.agent(example.app);
    const post = await agent.post('/events/test');
    expect(post.status).toBe(303);
    expect(post.headers.location).toBe('/events');
    const first = await agent.get('/events').expect(200);
    expect(first.text).toContain('<code id="event-answer">200 {&#34;code&#34;:0}</code>');
    expect(mainText(first.text)).toMatch(/Bot received a message: “Hello from the demo \(test event 1\)”/);
    const again = await agent.get('/events').expect(200);
    expect(again.text).not.toContain('id="flash"');
  });
});
