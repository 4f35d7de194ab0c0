import fc from 'fast-check';
import { signWpsEvent, type SignedWpsEvent } from '../../lib/testing';
import { check, runs } from '../hostile/helpers/fuzz';
import { CREDENTIALS, post, postJson, PARSERS, startEventsApp, type EventsServer } from './helpers';

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Replacement characters for text fields: printable ASCII without ':' (a ':' in a topic is refused as 400). */
const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))
  .filter((c) => c !== ':')
  .join('');

const topic = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).filter((t) => !t.includes(':'));
const nonce = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((n) => Buffer.byteLength(n) >= 19);
const data = fc.jsonValue({ stringUnit: 'grapheme', maxDepth: 3 });
const event = fc.record({ topic, operation: fc.string({ unit: 'grapheme', maxLength: 12 }), nonce, data });

/** Replace the code point at `at` (modulo the length) with a different one from `alphabet`. */
function flip(value: string, at: number, pick: number, alphabet: string): string {
  const points = Array.from(value);
  const i = at % points.length;
  const choices = [...alphabet].filter((c) => c !== points[i]);
  points[i] = choices[pick % choices.length] as string;
  return points.join('');
}

/** `body` with one character of one signed field changed. */
function tamper(body: SignedWpsEvent, field: number, at: number, pick: number): SignedWpsEvent {
  switch (field) {
    case 0:
      return { ...body, topic: flip(body.topic, at, pick, PRINTABLE) };
    case 1:
      return { ...body, nonce: flip(body.nonce, at, pick, PRINTABLE) };
    case 2: {
      // Another digit, never a leading zero (not a JSON number).
      const digits = String(body.time);
      const i = at % digits.length;
      return { ...body, time: Number(flip(digits, i, pick, i === 0 ? '123456789' : '0123456789')) };
    }
    case 3:
      return { ...body, encrypted_data: flip(body.encrypted_data, at, pick, BASE64) };
    default:
      return { ...body, signature: flip(body.signature, at, pick, BASE64URL) };
  }
}

describe.each(PARSERS)('sender → receiver %s (property-based)', (_label, json) => {
  let s: EventsServer;
  beforeAll(async () => {
    s = await startEventsApp(json);
  });
  afterAll(() => s.close());

  it('round-trips random topics, payloads and nonces, and refuses every one-character change of a signed field', async () => {
    await check(
      `events round trip and tampering (${json ? 'json' : 'raw'})`,
      runs(40),
      fc.asyncProperty(
        event,
        fc.array(fc.tuple(fc.nat(4), fc.nat(), fc.nat()), { minLength: 1, maxLength: 5 }),
        async (e, flips) => {
          const body = signWpsEvent(e, CREDENTIALS);
          for (const [field, at, pick] of flips) {
            const reply = await postJson(s.url, tamper(body, field, at, pick));
            if (reply.status !== 401 || (reply.body as { error?: string }).error !== 'invalid_signature') {
              throw new Error(`field ${field} changed: answered ${reply.status} ${reply.text}`);
            }
          }
          const before = s.seen.length;
          const reply = await postJson(s.url, body);
          expect([reply.status, reply.body]).toEqual([200, { code: 0 }]);
          expect(s.seen.slice(before)).toEqual([
            {
              topic: e.topic,
              operation: e.operation,
              time: new Date(body.time * 1000),
              nonce: e.nonce,
              data: JSON.parse(JSON.stringify(e.data)),
            },
          ]);
        },
      ),
    );
  });

  it('answers anything else with a 4xx of the table, never a 5xx, never a handler run', async () => {
    const field = fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.integer());
    const junk = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc
        .record(
          { topic: field, operation: field, time: field, nonce: field, signature: field, encrypted_data: field },
          { requiredKeys: [] },
        )
        .map((v) => JSON.stringify(v)),
    );
    const before = s.seen.length;
    await check(
      `events junk (${json ? 'json' : 'raw'})`,
      runs(150),
      fc.asyncProperty(junk, async (text) => {
        // text/plain, so that express.json() leaves the body to wpsEvents.
        const reply = await post(s.url, text, { headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
        const error = (reply.body as { error?: string }).error;
        const challenge = typeof (reply.body as { challenge?: unknown }).challenge === 'string';
        if (!challenge && !['400 invalid_event', '401 invalid_signature'].includes(`${reply.status} ${error}`)) {
          throw new Error(`answered ${reply.status} ${reply.text}`);
        }
      }),
    );
    expect(s.seen.length).toBe(before);
    expect(s.errors).toEqual([]);
  });
});
