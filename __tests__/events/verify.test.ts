import { inspect } from 'node:util';
import { verifyWpsEvent, WpsEventError, type VerifyWpsEventInput } from '../../lib';
import { createTestClock, signWpsEvent, type SignedWpsEvent } from '../../lib/testing';
import {
  APP_ID,
  APP_KEY,
  APP_KEY_MD5,
  CREDENTIALS,
  encryptAsWps,
  postJson,
  signAsWps,
  startEventsApp,
} from './helpers';

// verifyWpsEvent on its own: bytes in, a verdict out — no server, no clock object, no I/O.

const TIME = 1_750_000_000; // the event's time, in seconds
const NOW = TIME * 1000; // the verifier's `now`, in ms
const NONCE = 'nonce-0123456789abcdef';
const DATA = { chat_id: 'c1', text: '你好, WPS ✓' };

const sign = (extra: Partial<Parameters<typeof signWpsEvent>[0]> = {}): SignedWpsEvent =>
  signWpsEvent({ topic: 'topic.ok', operation: 'create', data: DATA, time: TIME, nonce: NONCE, ...extra }, CREDENTIALS);

const verify = (body: string | Buffer, extra: Partial<VerifyWpsEventInput> = {}) =>
  verifyWpsEvent({ body, ...CREDENTIALS, now: NOW, ...extra });

/** The WpsEventError `fn` throws, as `[code, status, message]`. */
function refusal(fn: () => unknown): [string, number, string] {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof WpsEventError)) throw err;
    return [err.code, err.status, err.message];
  }
  throw new Error('expected a WpsEventError, got a verdict');
}

const SIGNATURE =
  "WPS event refused: the signature does not match (are clientId and clientSecret this app's APPID and APPKEY?)";
const stale = (seconds: number) =>
  `WPS event refused: its time is more than maxAgeSeconds (${seconds}) from now; is this clock right?`;

describe('verifyWpsEvent on a good event', () => {
  const expected = {
    kind: 'event',
    event: { topic: 'topic.ok', operation: 'create', time: new Date(NOW), nonce: NONCE, data: DATA },
  };

  it('returns the verified, decrypted event, from a string body and from a Buffer body alike', () => {
    const text = JSON.stringify(sign());
    expect(verify(text)).toEqual(expected);
    expect(verify(Buffer.from(text, 'utf8'))).toEqual(expected);
  });

  it('ignores extra fields, and trims the clientId as wpsEvents does', () => {
    expect(verify(JSON.stringify({ ...sign(), extra: 1 }), { clientId: ` ${APP_ID} ` })).toEqual(expected);
  });

  it('reads the time from Date.now() when no `now` is given', () => {
    const fresh = JSON.stringify(sign({ time: new Date() }));
    expect(verifyWpsEvent({ body: fresh, ...CREDENTIALS }).kind).toBe('event');
    expect(refusal(() => verifyWpsEvent({ body: JSON.stringify(sign()), ...CREDENTIALS }))[0]).toBe('stale_event');
  });
});

describe("verifyWpsEvent on WPS's URL check", () => {
  it('returns the challenge, from a string or a Buffer, without checking any signature', () => {
    expect(verify('{"challenge":"abc-中文"}')).toEqual({ kind: 'challenge', challenge: 'abc-中文' });
    expect(verify(Buffer.from('{"challenge":""}'), { clientSecret: 'another-key' })).toEqual({
      kind: 'challenge',
      challenge: '',
    });
  });

  it('is only a body whose one field is a string challenge', () => {
    for (const body of ['{"challenge":"x","topic":"t"}', '{"challenge":1}', '["challenge"]']) {
      expect(refusal(() => verify(body)).slice(0, 2)).toEqual(['invalid_event', 400]);
    }
  });
});

describe('verifyWpsEvent refuses', () => {
  it('401 invalid_signature: a signed field changed, the signature re-encoded, another APPKEY or APPID', () => {
    const good = sign();
    const event = { topic: 'topic.ok', operation: 'create', data: DATA, time: TIME, nonce: NONCE };
    const bodies = [
      { ...good, signature: good.signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) },
      { ...good, signature: `${good.signature}=` },
      { ...good, topic: 'topic.other' },
      { ...good, nonce: `${NONCE}x` },
      { ...good, time: TIME + 1 },
      { ...good, encrypted_data: encryptAsWps(Buffer.from('{"n":2}'), NONCE) },
      signWpsEvent(event, { clientId: APP_ID, clientSecret: 'another-app-key' }),
      signWpsEvent(event, { ...CREDENTIALS, clientId: 'another-app-id' }),
    ];
    for (const body of bodies) {
      expect(refusal(() => verify(JSON.stringify(body)))).toEqual(['invalid_signature', 401, SIGNATURE]);
    }
    expect(verify(JSON.stringify(good)).kind).toBe('event');
  });

  it('401 stale_event: more than maxAgeSeconds in the past or the future; the bound itself is inside', () => {
    const body = JSON.stringify(sign());
    expect(verify(body, { now: NOW + 300_000 }).kind).toBe('event');
    expect(verify(body, { now: NOW - 300_000 }).kind).toBe('event');
    expect(refusal(() => verify(body, { now: NOW + 300_001 }))).toEqual(['stale_event', 401, stale(300)]);
    expect(refusal(() => verify(body, { now: NOW - 300_001 }))).toEqual(['stale_event', 401, stale(300)]);
    expect(verify(body, { now: NOW + 10_000, maxAgeSeconds: 10 }).kind).toBe('event');
    expect(refusal(() => verify(body, { now: NOW + 10_001, maxAgeSeconds: 10 }))).toEqual([
      'stale_event',
      401,
      stale(10),
    ]);
    expect(refusal(() => verify(body, { now: NOW - 10_001, maxAgeSeconds: 10 }))[0]).toBe('stale_event');
  });

  it('checks the signature before the time: a forged old event is invalid_signature, not stale_event', () => {
    const forged = { ...sign(), signature: 'x'.repeat(43) };
    expect(refusal(() => verify(JSON.stringify(forged), { now: NOW + 3_600_000 }))[0]).toBe('invalid_signature');
  });

  it('400 invalid_event: not JSON, not UTF-8, not an object', () => {
    for (const body of ['', '{"topic":', Buffer.from([0x7b, 0xff, 0x7d]), Buffer.alloc(0)]) {
      expect(refusal(() => verify(body))).toEqual([
        'invalid_event',
        400,
        'WPS event refused: the body is not UTF-8 JSON',
      ]);
    }
    for (const body of ['null', '42', '"challenge"', '[{}]']) {
      expect(refusal(() => verify(body))).toEqual([
        'invalid_event',
        400,
        'WPS event refused: the body is not a JSON object',
      ]);
    }
  });

  it('400 invalid_event: a field missing or malformed, naming the field', () => {
    const good = sign();
    expect(refusal(() => verify(JSON.stringify({ ...good, nonce: undefined })))).toEqual([
      'invalid_event',
      400,
      'WPS event refused: nonce is missing, not a string, shorter than 16 bytes or contains a lone surrogate',
    ]);
    expect(refusal(() => verify(JSON.stringify({ ...good, time: String(TIME) })))[2]).toBe(
      'WPS event refused: time is missing or not a whole number of seconds',
    );
  });

  it('400 invalid_event: correctly signed, but undecryptable or not JSON inside', () => {
    const signed = (encrypted_data: string) => {
      const e = { topic: 'topic.ok', time: TIME, nonce: NONCE, encrypted_data };
      return JSON.stringify({ ...e, operation: 'create', signature: signAsWps(e) });
    };
    const cases: [string, string][] = [
      [encryptAsWps(Buffer.from('x'.repeat(16)), NONCE, undefined, false), 'does not decrypt (bad padding)'],
      [encryptAsWps(Buffer.from('not json'), NONCE), 'the decrypted data is not UTF-8 JSON'],
      ['YWJj', 'encrypted_data is not whole AES blocks'],
    ];
    for (const [data, reason] of cases) {
      const [code, status, message] = refusal(() => verify(signed(data)));
      expect([code, status, message.endsWith(reason)]).toEqual(['invalid_event', 400, true]);
    }
  });

  it('never says the APPKEY, its MD5, the signature or the data, in any form of the error', () => {
    const marker = 'decrypted-MARKER-91c3';
    const good = sign({ data: { marker } });
    const bodies = [{ ...good, signature: `${good.signature.slice(1)}A` }, { ...good, topic: APP_KEY }, good];
    const shown: string[] = [];
    for (const [i, body] of bodies.entries()) {
      try {
        verify(JSON.stringify(body), { now: i === 2 ? NOW + 3_600_000 : NOW });
      } catch (err) {
        shown.push(String(err), JSON.stringify(err), inspect(err, { showHidden: true, depth: Infinity }));
      }
    }
    expect(shown).toHaveLength(9);
    for (const secret of [APP_KEY, APP_KEY_MD5, good.signature, marker]) {
      expect(shown.filter((text) => text.includes(secret))).toEqual([]);
    }
  });
});

describe('verifyWpsEvent arguments', () => {
  const HEAD = 'express-wps-oauth: invalid verifyWpsEvent input:\n';
  const body = JSON.stringify(sign());

  it('refuses what is not an object', () => {
    for (const bad of [undefined, null, 'body', [body]]) {
      expect(() => verifyWpsEvent(bad as never)).toThrow(
        new TypeError(
          'express-wps-oauth: verifyWpsEvent(input) expects an object, e.g. verifyWpsEvent({ body, clientId, clientSecret })',
        ),
      );
    }
  });

  it('lists every problem by name, never a value', () => {
    expect(() =>
      verifyWpsEvent({
        body: JSON.parse(body) as never,
        clientId: ' ',
        clientSecret: 987654321 as never,
        maxAgeSeconds: 1.5,
        now: Number.NaN,
        maxAge: 300, // a typo: refused, not ignored
      } as VerifyWpsEventInput),
    ).toThrow(
      new TypeError(
        HEAD +
          '  - body must be the raw request body, a string or a Buffer (read it before any JSON parser)\n' +
          '  - clientId must be a non-empty string\n' +
          '  - clientSecret must be a non-empty string\n' +
          '  - maxAgeSeconds must be a whole number of seconds from 1 to 86400\n' +
          '  - now must be a finite number of ms since the epoch, e.g. Date.now()\n' +
          '  - maxAge is not allowed',
      ),
    );
    expect(() => verifyWpsEvent({ body, clientId: 'id', clientSecret: '', now: '1' as never })).toThrow(
      new TypeError(
        HEAD +
          '  - clientSecret must be a non-empty string\n' +
          '  - now must be a finite number of ms since the epoch, e.g. Date.now()',
      ),
    );
  });

  it.each([0, 86_401, '300', Infinity])('refuses maxAgeSeconds %p', (maxAgeSeconds) => {
    expect(() => verify(body, { maxAgeSeconds: maxAgeSeconds as number })).toThrow(
      new TypeError(HEAD + '  - maxAgeSeconds must be a whole number of seconds from 1 to 86400'),
    );
  });

  it('accepts maxAgeSeconds and now given as undefined (exactOptionalPropertyTypes users may write so)', () => {
    const fresh = JSON.stringify(sign({ time: new Date() }));
    expect(verifyWpsEvent({ body: fresh, ...CREDENTIALS, maxAgeSeconds: undefined, now: undefined }).kind).toBe(
      'event',
    );
  });
});

describe('verifyWpsEvent and wpsEvents', () => {
  it('give the same verdict, status and code for the same bodies', async () => {
    const clock = createTestClock();
    const s = await startEventsApp(false, { clock });
    try {
      const now = Math.floor(Date.now() / 1000);
      const good = signWpsEvent({ topic: 'topic.ok', operation: 'create', data: { n: 1 }, time: now }, CREDENTIALS);
      const bodies: unknown[] = [
        good,
        { challenge: 'c' },
        { ...good, signature: good.signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) },
        signWpsEvent({ topic: 'topic.ok', operation: 'create', data: 1, time: now - 3600 }, CREDENTIALS),
        { ...good, nonce: 'short' },
        42,
      ];
      const viaRoute: unknown[] = [];
      const viaFunction: unknown[] = [];
      for (const body of bodies) {
        const reply = await postJson(s.url, body);
        const { error } = reply.body as { error?: string };
        viaRoute.push([reply.status, error ?? 'accepted']);
        try {
          verifyWpsEvent({ body: JSON.stringify(body), ...CREDENTIALS, now: clock.now() });
          viaFunction.push([200, 'accepted']);
        } catch (err) {
          const e = err as WpsEventError;
          viaFunction.push([e.status, e.code]);
        }
      }
      expect(viaRoute).toEqual([
        [200, 'accepted'],
        [200, 'accepted'],
        [401, 'invalid_signature'],
        [401, 'stale_event'],
        [400, 'invalid_event'],
        [400, 'invalid_event'],
      ]);
      expect(viaFunction).toEqual(viaRoute);
    } finally {
      await s.close();
    }
  });
});
