import request from 'supertest';
import { createTestClock, sendWpsChallenge, sendWpsEvent, signWpsEvent } from '../../lib/testing';
import {
  APP_ID,
  CREDENTIALS,
  encryptAsWps,
  post,
  postJson,
  PARSERS,
  signedWith,
  startEventsApp,
  type EventsServer,
} from './helpers';

// Every answer of the table in docs/events.md, with and without express.json() in front (and, through the two
// Jest projects, on Express 4 and 5).

const NOW = () => Math.floor(Date.now() / 1000);
const event = (data: unknown = { text: 'hello' }, topic = 'topic.ok') =>
  signWpsEvent({ topic, operation: 'create', data }, CREDENTIALS);

describe.each(PARSERS)('wpsEvents %s', (_label, json) => {
  let s: EventsServer;
  let clock: ReturnType<typeof createTestClock>;
  let failures: number;
  beforeEach(async () => {
    clock = createTestClock();
    failures = 0;
    s = await startEventsApp(json, {
      clock,
      on: {
        'topic.ok': (e) => {
          s.handled.push(e);
        },
        'topic.throws': (e) => {
          s.handled.push(e);
          if (failures++ === 0) throw new TypeError('first delivery fails');
        },
        'topic.rejects': async (e) => {
          s.handled.push(e);
          await Promise.resolve();
          if (failures++ === 0) throw new RangeError('first delivery fails');
        },
      },
    });
  });
  afterEach(async () => {
    await s.close();
    expect(s.errors).toEqual([]);
  });

  describe('URL check', () => {
    it('answers 200 with the same challenge, and runs no handler', async () => {
      expect(await sendWpsChallenge(s.url, 'challenge-Ab1-中文')).toEqual({
        status: 200,
        body: { challenge: 'challenge-Ab1-中文' },
      });
      const res = await request(s.app).post('/wps/events').send({ challenge: '' }).expect(200);
      expect(res.body).toEqual({ challenge: '' });
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect([s.handled, s.seen]).toEqual([[], []]);
    });

    it('is only a body whose one field is a string challenge', async () => {
      for (const body of [{ challenge: 'x', topic: 't' }, { challenge: 1 }, { challenge: null }]) {
        expect(await postJson(s.url, body)).toMatchObject({ status: 400, body: { error: 'invalid_event' } });
      }
    });
  });

  describe('a verified event', () => {
    it('is answered 200 {"code": 0} after the handler, which gets the decrypted data; onEvent runs after it', async () => {
      const time = NOW() - 10;
      const data = { text: '你好, WPS 365 ✓', list: [1, null, { deep: true }] };
      const reply = await sendWpsEvent(
        s.url,
        { topic: 'topic.ok', operation: 'create', data, time, nonce: 'nonce-ÄÖÜ-0123456789' },
        CREDENTIALS,
      );
      expect(reply).toEqual({ status: 200, body: { code: 0 } });
      const expected = {
        topic: 'topic.ok',
        operation: 'create',
        time: new Date(time * 1000),
        nonce: 'nonce-ÄÖÜ-0123456789',
        data,
      };
      expect(s.handled).toEqual([expected]);
      expect(s.seen).toEqual([expected]);
      expect(s.seen[0]).toBe(s.handled[0]);
    });

    it('of a topic without a handler is answered 200, and onEvent sees it', async () => {
      const res = await request(s.app)
        .post('/wps/events')
        .send(event({ n: 1 }, 'topic.unhandled'))
        .expect(200);
      expect(res.body).toEqual({ code: 0 });
      expect(s.handled).toEqual([]);
      expect(s.seen.map((e) => [e.topic, e.data])).toEqual([['topic.unhandled', { n: 1 }]]);
    });

    it.each(['topic.throws', 'topic.rejects'])(
      'whose handler fails (%s) within the ack window is answered 500 and forgotten: its re-delivery runs again',
      async (topic) => {
        const body = event({ n: 2 }, topic);
        expect(await postJson(s.url, body)).toMatchObject({ status: 500, body: { error: 'handler_failed' } });
        expect(s.seen).toEqual([]); // onEvent runs only after the topic handler succeeded
        expect(await postJson(s.url, body)).toMatchObject({ status: 200, body: { code: 0 } });
        expect(await postJson(s.url, body)).toMatchObject({ status: 200, body: { code: 0 } });
        expect(s.handled).toHaveLength(2);
        expect(s.seen).toHaveLength(1);
        const failed = s.logger.lines.filter((l) => l.includes('event handler failed'));
        expect(failed).toEqual([
          `error express-wps-oauth: event handler failed: answered 500, so that a re-delivery runs it again ${JSON.stringify(
            { topic, operation: 'create', reason: topic === 'topic.throws' ? 'TypeError' : 'RangeError' },
          )}`,
        ]);
      },
    );

    it('seen before (same signature) is answered 200 without running the handler again', async () => {
      const body = event({ n: 3 });
      const replies = [await postJson(s.url, body), await postJson(s.url, body)];
      // Concurrent copies too: exactly one of all of them runs the handler.
      replies.push(...(await Promise.all([1, 2, 3, 4].map(() => postJson(s.url, body)))));
      expect(replies.map((r) => [r.status, r.body])).toEqual(replies.map(() => [200, { code: 0 }]));
      expect(s.handled).toHaveLength(1);
      // A new event with the same data is another event.
      expect((await postJson(s.url, event({ n: 3 }))).status).toBe(200);
      expect(s.handled).toHaveLength(2);
    });
  });

  describe('a refused event changes nothing', () => {
    it('401 invalid_signature: a wrong signature, another app’s APPKEY or APPID', async () => {
      const good = event({ n: 4 });
      const bodies = [
        { ...good, signature: good.signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) },
        { ...good, signature: `${good.signature}=` },
        { ...good, signature: '' },
        signWpsEvent(
          { topic: 'topic.ok', operation: 'create', data: { n: 4 } },
          { clientId: APP_ID, clientSecret: 'another-app-key' },
        ),
        signWpsEvent(
          { topic: 'topic.ok', operation: 'create', data: { n: 4 } },
          { ...CREDENTIALS, clientId: 'another-app-id' },
        ),
      ];
      for (const body of bodies) {
        const reply = await postJson(s.url, body);
        expect([reply.status, reply.body]).toEqual([401, { error: 'invalid_signature' }]);
      }
      expect(s.handled).toEqual([]);
      expect((await postJson(s.url, good)).status).toBe(200);
      expect(s.handled).toHaveLength(1);
    });

    it('cannot refuse a changed operation: WPS does not sign it; a copy with another operation is still a repeat', async () => {
      const good = event({ n: 8 });
      expect((await postJson(s.url, { ...good, operation: 'delete' })).body).toEqual({ code: 0 });
      expect((await postJson(s.url, good)).body).toEqual({ code: 0 });
      expect(s.handled.map((e) => e.operation)).toEqual(['delete']);
    });

    it('401 stale_event: time more than maxAgeSeconds (300) in the past or the future', async () => {
      const body = event({ n: 5 });
      clock.advance(301_000); // the event is 301 s old
      expect(await postJson(s.url, body)).toMatchObject({ status: 401, body: { error: 'stale_event' } });
      clock.advance(-602_000); // the event is 301 s in the future
      expect(await postJson(s.url, body)).toMatchObject({ status: 401, body: { error: 'stale_event' } });
      clock.advance(2_000); // 299 s in the future: inside the window
      expect(s.handled).toEqual([]);
      expect(await postJson(s.url, body)).toMatchObject({ status: 200, body: { code: 0 } });
      expect(s.handled).toHaveLength(1);
      expect(s.logger.lines.filter((l) => l.includes('stale') || l.includes('maxAgeSeconds'))).toHaveLength(2);
    });

    it('400 invalid_event: a field missing or of the wrong type', async () => {
      const good = event({ n: 6 });
      const broken: unknown[] = [
        {},
        { ...good, topic: undefined },
        { ...good, operation: undefined },
        { ...good, time: undefined },
        { ...good, nonce: undefined },
        { ...good, signature: undefined },
        { ...good, encrypted_data: undefined },
        { ...good, topic: 5 },
        { ...good, topic: '' },
        { ...good, topic: 'kso:shifted' },
        { ...good, topic: 'kso.\ud800' },
        { ...good, nonce: `${good.nonce}\udfff` },
        { ...good, operation: ['create'] },
        { ...good, time: String(good.time) },
        { ...good, time: good.time + 0.5 },
        { ...good, time: -1 },
        { ...good, nonce: 'only-15-bytes!!' },
        { ...good, signature: null },
        { ...good, encrypted_data: { a: 1 } },
        [good],
      ];
      for (const body of broken) {
        const reply = await postJson(s.url, body);
        expect([reply.status, reply.body]).toEqual([400, { error: 'invalid_event' }]);
      }
      expect(s.handled).toEqual([]);
      expect((await postJson(s.url, good)).status).toBe(200);
    });

    it('400 invalid_event: not JSON, not UTF-8', async () => {
      // As text/plain, so that express.json() leaves it to wpsEvents (see the next test for application/json).
      for (const text of ['{"topic":', 'null', '"challenge"', '42', '', Buffer.from([0x7b, 0xff, 0x7d])]) {
        const reply = await post(s.url, text, { headers: { 'Content-Type': 'text/plain' } });
        expect([reply.status, reply.body]).toEqual([400, { error: 'invalid_event' }]);
      }
    });

    it('400 invalid_event: correctly signed, but bad base64, not AES blocks, undecryptable, or not JSON inside', async () => {
      const nonce = 'nonce-0123456789abcdef';
      const encrypted = [
        'not base64!',
        'abc',
        'YWJj', // 3 bytes: not whole AES blocks
        encryptAsWps(Buffer.from('x'.repeat(16)), nonce, undefined, false), // no valid PKCS#7 padding
        encryptAsWps(Buffer.from('{"n":7}'), nonce, 'another-app-key'), // another app's key
        encryptAsWps(Buffer.from('not json'), nonce),
        encryptAsWps(Buffer.from([0x22, 0xff, 0x22]), nonce), // not UTF-8
      ];
      for (const data of encrypted) {
        const reply = await postJson(s.url, signedWith(data, { nonce }));
        expect([reply.status, reply.body]).toEqual([400, { error: 'invalid_event' }]);
      }
      // The same way of building an event works when the contents are right.
      expect((await postJson(s.url, signedWith(encryptAsWps(Buffer.from('{"n":7}'), nonce), { nonce }))).body).toEqual({
        code: 0,
      });
      expect(s.handled.map((e) => e.data)).toEqual([{ n: 7 }]);
    });

    it('413 too_large: a Content-Length over maxBodyBytes, with Connection: close', async () => {
      await s.close();
      s = await startEventsApp(json, { maxBodyBytes: 1024 });
      const body = JSON.stringify({ ...event({ pad: 'x'.repeat(2000) }) });
      const reply = await post(s.url, body);
      expect([reply.status, reply.body, reply.headers.connection]).toEqual([413, { error: 'too_large' }, 'close']);
      expect(s.seen).toEqual([]);
      // Just under the limit is fine.
      const small = await postJson(s.url, event({ pad: 'x'.repeat(300) }));
      expect(small.status).toBe(200);
    });

    it('405 method_not_allowed, with Allow: POST', async () => {
      for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
        const reply = await post(s.url.replace('/wps/events', '/wps/any'), JSON.stringify(event()), { method });
        expect([reply.status, reply.body, reply.headers.allow]).toEqual([405, { error: 'method_not_allowed' }, 'POST']);
      }
      expect(s.seen).toEqual([]);
    });
  });
});

describe('wpsEvents after express.json(), on what express.json() answers itself', () => {
  it('leaves malformed JSON sent as application/json to body-parser (its 400 goes to the app’s error handler)', async () => {
    const s = await startEventsApp(true);
    try {
      const reply = await post(s.url, '{"topic":');
      expect([reply.status, reply.body]).toEqual([400, { appErrorHandler: true }]);
      expect(s.errors).toHaveLength(1);
    } finally {
      await s.close();
    }
  });
});

describe('wpsEvents reading the body itself', () => {
  it('413 too_large: a chunked body is refused as soon as it passes maxBodyBytes', async () => {
    const s = await startEventsApp(false, { maxBodyBytes: 1024 });
    try {
      const body = JSON.stringify(event({ pad: 'x'.repeat(2000) }));
      const reply = await post(s.url, body, { chunked: true });
      expect([reply.status, reply.body, reply.headers.connection]).toEqual([413, { error: 'too_large' }, 'close']);
    } finally {
      await s.close();
    }
  });
});
