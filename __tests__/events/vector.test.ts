import { createCipheriv, createHash, createHmac } from 'node:crypto';
import { verifyWpsEvent } from '../../lib';
import { createTestClock, sendWpsEvent, signWpsEvent, startFakeWps } from '../../lib/testing';
import { postJson, startEventsApp } from './helpers';

// One known answer pins the sender (lib/testing/send-event.ts) and the receiver (lib/events/crypto.ts, behind
// verify.ts), which share no code, to the platform's formulas (platform notes §8) — computed here a third time with
// node:crypto.

const VECTOR = {
  appId: 'AK123456',
  appKey: 'sk098765',
  topic: 'kso.app_chat.message',
  operation: 'create',
  nonce: '5f2a9c1e7b3d4a60-n0nce',
  time: 1_700_000_000,
  data: { chat_id: 'chat-1', text: '你好, bot' },
};

/** The formulas, straight from the platform's documentation. */
function fromTheFormulas() {
  const aesKey = createHash('md5').update(VECTOR.appKey).digest('hex');
  const cipher = createCipheriv('aes-256-cbc', Buffer.from(aesKey, 'ascii'), Buffer.from(VECTOR.nonce).subarray(0, 16));
  const encrypted = Buffer.concat([cipher.update(JSON.stringify(VECTOR.data), 'utf8'), cipher.final()]).toString(
    'base64',
  );
  const content = [VECTOR.appId, VECTOR.topic, VECTOR.nonce, String(VECTOR.time), encrypted].join(':');
  const signature = createHmac('sha256', VECTOR.appKey).update(content).digest('base64url');
  return { aesKey, encrypted, signature };
}

const credentials = { clientId: VECTOR.appId, clientSecret: VECTOR.appKey };

describe('the known-answer vector', () => {
  it('is what the formulas give (key = hex MD5 as 32 ASCII bytes; standard base64; unpadded base64url)', () => {
    expect(fromTheFormulas()).toEqual({
      aesKey: 'e841b3fe64f8513b26187479d3bd5db7',
      encrypted: 'NWsb+8hhFF0mzmdSrEvPo/HF1OjnIUryBCnmtBd763wCdrDbk6qBdpjlEbWFQUqB',
      signature: 'RHOtTNBQefVfce2d4PyzOZJPogXKZ5wLPnEbauKieOE',
    });
  });

  it('is what signWpsEvent sends', () => {
    const { encrypted, signature } = fromTheFormulas();
    const { data, appId: _id, appKey: _key, ...fields } = VECTOR;
    expect(signWpsEvent({ ...fields, data }, credentials)).toEqual({
      topic: VECTOR.topic,
      operation: VECTOR.operation,
      time: VECTOR.time,
      nonce: VECTOR.nonce,
      signature,
      encrypted_data: encrypted,
    });
    // A Date is rounded down to the second.
    expect(signWpsEvent({ ...fields, data, time: new Date(VECTOR.time * 1000 + 999) }, credentials).signature).toBe(
      signature,
    );
  });

  it('is what wpsEvents accepts and decrypts, and nothing else', async () => {
    const clock = createTestClock();
    clock.advance(VECTOR.time * 1000 - clock.now());
    const s = await startEventsApp(false, { ...credentials, clock });
    try {
      const { encrypted, signature } = fromTheFormulas();
      const body = {
        topic: VECTOR.topic,
        operation: 'create',
        time: VECTOR.time,
        nonce: VECTOR.nonce,
        signature,
        encrypted_data: encrypted,
      };
      // Padded base64url, or standard base64, of the same bytes is not the signature.
      const padded = await postJson(s.url, { ...body, signature: `${signature}=` });
      const standard = await postJson(s.url, {
        ...body,
        signature: Buffer.from(signature, 'base64url').toString('base64'),
      });
      expect([padded.status, standard.status]).toEqual([401, 401]);
      expect(await postJson(s.url, body)).toMatchObject({ status: 200, body: { code: 0 } });
      expect(s.seen).toEqual([
        {
          topic: VECTOR.topic,
          operation: 'create',
          time: new Date(VECTOR.time * 1000),
          nonce: VECTOR.nonce,
          data: VECTOR.data,
        },
      ]);
    } finally {
      await s.close();
    }
  });

  it('is what verifyWpsEvent accepts and decrypts, from the bytes as sent, and nothing else', () => {
    const { encrypted, signature } = fromTheFormulas();
    const body = {
      topic: VECTOR.topic,
      operation: 'create',
      time: VECTOR.time,
      nonce: VECTOR.nonce,
      signature,
      encrypted_data: encrypted,
    };
    const input = { ...credentials, now: VECTOR.time * 1000 };
    expect(verifyWpsEvent({ ...input, body: Buffer.from(JSON.stringify(body)) })).toEqual({
      kind: 'event',
      event: {
        topic: VECTOR.topic,
        operation: 'create',
        time: new Date(VECTOR.time * 1000),
        nonce: VECTOR.nonce,
        data: VECTOR.data,
      },
    });
    const reencoded = [`${signature}=`, Buffer.from(signature, 'base64url').toString('base64')];
    for (const other of reencoded) {
      expect(() => verifyWpsEvent({ ...input, body: JSON.stringify({ ...body, signature: other }) })).toThrow(
        expect.objectContaining({ name: 'WpsEventError', code: 'invalid_signature', status: 401 }),
      );
    }
  });
});

describe('the test sender', () => {
  it('makes a random nonce of 32 hex characters by default, and the time now', () => {
    const before = Math.floor(Date.now() / 1000);
    const a = signWpsEvent({ topic: 't', operation: 'o', data: 1 }, credentials);
    const b = signWpsEvent({ topic: 't', operation: 'o', data: 1 }, credentials);
    expect(a.nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.time).toBeGreaterThanOrEqual(before);
    expect(a.time).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
  });

  it('refuses what WPS would never send, naming it', () => {
    const event = { topic: 't', operation: 'o', data: 1 };
    expect(() => signWpsEvent({ ...event, nonce: '15-bytes-nonce!' }, credentials)).toThrow(
      new TypeError('signWpsEvent: nonce must be at least 16 bytes long (its first 16 are the IV)'),
    );
    expect(() => signWpsEvent({ ...event, data: undefined }, credentials)).toThrow(
      new TypeError('signWpsEvent: data must be serializable as JSON'),
    );
    expect(() => signWpsEvent({ ...event, time: 1.5 }, credentials)).toThrow(
      new TypeError('signWpsEvent: time must be whole seconds since the epoch (or a Date)'),
    );
    expect(() => signWpsEvent(event, { clientId: 'id', clientSecret: '' })).toThrow(
      new TypeError('signWpsEvent: credentials need a non-empty clientId and clientSecret (APPID and APPKEY)'),
    );
  });

  it('sendWpsEvent resolves with a text body when the answer is not JSON', async () => {
    const s = await startEventsApp(false, {}, (app) => app.post('/text', (_req, res) => res.status(202).send('plain')));
    try {
      const reply = await sendWpsEvent(
        s.url.replace('/wps/events', '/text'),
        { topic: 't', operation: 'o', data: 1 },
        credentials,
      );
      expect(reply).toEqual({ status: 202, body: 'plain' });
    } finally {
      await s.close();
    }
  });

  it("fakeWps.sendEvent signs with the fake's own clientId and clientSecret", async () => {
    const fake = await startFakeWps({ clientId: 'fake-app', clientSecret: 'fake-app-secret' });
    const s = await startEventsApp(false, { clientId: 'fake-app', clientSecret: 'fake-app-secret' });
    const other = await startEventsApp(false);
    try {
      const event = { topic: 'topic.ok', operation: 'create', data: { from: 'fake' } };
      expect(await fake.sendEvent(s.url, event)).toEqual({ status: 200, body: { code: 0 } });
      expect(s.handled.map((e) => e.data)).toEqual([{ from: 'fake' }]);
      expect(await fake.sendEvent(other.url, event)).toEqual({ status: 401, body: { error: 'invalid_signature' } });
    } finally {
      await Promise.all([fake.close(), s.close(), other.close()]);
    }
  });
});
