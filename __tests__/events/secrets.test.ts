import { inspect } from 'node:util';
import { createTestClock, sendWpsEvent, signWpsEvent } from '../../lib/testing';
import { Haystack } from '../hostile/helpers/secrets';
import {
  APP_KEY,
  APP_KEY_MD5,
  CREDENTIALS,
  encryptAsWps,
  post,
  postJson,
  signedWith,
  startEventsApp,
  waitFor,
} from './helpers';

// Every answer and every log line of every situation of the table, searched for the APPKEY, its MD5 (the AES
// key), the decrypted data and the signatures.

const MARKER = 'decrypted-payload-MARKER-5be1c7';

it('no answer and no log line shows the APPKEY, its MD5, the decrypted data or a signature', async () => {
  const clock = createTestClock();
  const haystack = new Haystack();
  const signatures: string[] = [];
  let letSlowFail = () => {};
  const slowMayFail = new Promise<void>((resolve) => (letSlowFail = resolve));
  const s = await startEventsApp(false, {
    clock,
    ackTimeoutMs: 100,
    maxBodyBytes: 4096,
    on: {
      'topic.ok': () => {},
      'topic.fails': (e) => {
        throw new Error(`failing with ${JSON.stringify(e.data)}`);
      },
      'topic.slow': async (e) => {
        // Real time: its event is acknowledged on wpsEvents' ackTimeoutMs timer (100 ms), which no clock of ours
        // moves. The handler is held until that answer has come, so it fails after it, whatever the machine's speed.
        await slowMayFail;
        throw new Error(`late failure with ${JSON.stringify(e.data)}`);
      },
    },
  });
  try {
    const send = async (label: string, body: unknown) => {
      const reply = await postJson(s.url, body);
      haystack.add(`${label} body`, reply.text);
      haystack.add(`${label} headers`, JSON.stringify(reply.headers));
      return reply;
    };
    const make = (topic: string, extra: object = {}) => {
      const body = signWpsEvent({ topic, operation: 'create', data: { secret: MARKER }, ...extra }, CREDENTIALS);
      signatures.push(body.signature);
      return body;
    };
    const sendSlow = async () => {
      const reply = await send('slow', make('topic.slow'));
      letSlowFail();
      return reply;
    };
    const ok = make('topic.ok');
    const statuses = [
      (await send('challenge', { challenge: 'c' })).status,
      (await send('ok', ok)).status,
      (await send('repeat', ok)).status,
      (await send('fails', make('topic.fails'))).status,
      (await sendSlow()).status,
      (await send('bad signature', { ...make('topic.ok'), signature: 'x'.repeat(43) })).status,
      (
        await send(
          'other key',
          signWpsEvent({ topic: 'a', operation: 'b', data: MARKER }, { ...CREDENTIALS, clientSecret: 'k2' }),
        )
      ).status,
      (await send('stale', make('topic.ok', { time: Math.floor(Date.now() / 1000) - 3600 }))).status,
      (await send('missing field', { ...make('topic.ok'), nonce: undefined })).status,
      (await send('not JSON inside', signedWith(encryptAsWps(Buffer.from(MARKER), 'nonce-0123456789abcdef')))).status,
      (await send('topic with the key', { ...make('topic.ok'), topic: APP_KEY })).status,
      (await send('too large', make('topic.ok', { data: MARKER.repeat(200) }))).status,
    ];
    const get = await post(s.url.replace('/wps/events', '/wps/any'), '', { method: 'GET' });
    haystack.add('GET body', get.text);
    const viaSender = await sendWpsEvent(s.url, { topic: 'topic.ok', operation: 'x', data: MARKER }, CREDENTIALS);
    haystack.add('sendWpsEvent reply', inspect(viaSender));
    expect([...statuses, get.status, viaSender.status]).toEqual([
      200, 200, 200, 500, 200, 401, 401, 401, 400, 400, 401, 413, 405, 200,
    ]);

    await waitFor(() => s.logger.lines.some((l) => l.includes('failed after')));
    for (const [i, line] of s.logger.lines.entries()) haystack.add(`log line ${i}`, line);
    expect(haystack.count('log line')).toBeGreaterThanOrEqual(12);
    expect(haystack.leaks([APP_KEY, APP_KEY_MD5, MARKER, ...signatures])).toEqual([]);
  } finally {
    letSlowFail();
    await s.close();
  }
});
