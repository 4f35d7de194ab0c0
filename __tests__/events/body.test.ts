import http from 'node:http';
import express from 'express';
import { signWpsEvent } from '../../lib/testing';
import { CREDENTIALS, post, postJson, startEventsApp, waitFor, type EventsServer } from './helpers';

const TEN_MB = 10 * 1024 * 1024;
const MIB = 1024 * 1024;

/**
 * Send 10 MB as fast as the socket takes it, and resolve with the status of the answer that came back (if it
 * came before the server closed the connection) and any error the client saw.
 */
function sendHuge(url: string, chunked: boolean): Promise<{ status: number | undefined; error: string | undefined }> {
  return new Promise((resolve) => {
    let status: number | undefined;
    let error: string | undefined;
    const req = http.request(url, {
      method: 'POST',
      agent: false,
      headers: { 'Content-Type': 'application/json', ...(chunked ? {} : { 'Content-Length': String(TEN_MB) }) },
    });
    req.on('response', (res) => {
      status = res.statusCode;
      res.resume();
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code;
    });
    // Last of all, after the answer was read or the connection was cut: whatever came back has come.
    req.on('close', () => resolve({ status, error }));
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    chunk[0] = 0x7b; // '{', so that it starts like JSON
    for (let sent = 0; sent < TEN_MB; sent += chunk.length) req.write(chunk);
    req.end();
  });
}

describe('a 10 MB body is refused without being read', () => {
  let s: EventsServer;
  beforeEach(async () => {
    s = await startEventsApp(false); // default maxBodyBytes: 1 MiB
  });
  afterEach(() => s.close());

  it.each([
    ['with Content-Length: refused before reading', false, 512 * 1024],
    ['chunked: refused once past 1 MiB', true, MIB + 512 * 1024],
  ])('%s', async (_label, chunked, readAtMost) => {
    const result = await sendHuge(s.url, chunked);
    expect(result.status).toBe(413);
    const [socket] = s.sockets;
    await waitFor(() => socket?.destroyed === true);
    expect(s.sockets).toHaveLength(1);
    expect(socket?.bytesRead).toBeLessThan(readAtMost);
    expect(s.seen).toEqual([]);
    expect(s.logger.lines).toEqual([
      'warn express-wps-oauth: event refused: the body is over maxBodyBytes (1048576) {}',
    ]);
  });
});

describe('a body some other middleware read first', () => {
  const body = () =>
    JSON.stringify(signWpsEvent({ topic: 'topic.ok', operation: 'create', data: { n: 1 } }, CREDENTIALS));
  let s: EventsServer | undefined;
  afterEach(() => s?.close());

  it.each([
    ['express.raw() (a Buffer in req.body)', (app: express.Express) => app.use(express.raw({ type: '*/*' }))],
    ['express.text() (a string in req.body)', (app: express.Express) => app.use(express.text({ type: '*/*' }))],
    [
      'a hand-written reader that leaves no _body mark',
      (app: express.Express) =>
        app.use((req, _res, next) => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => {
            (req as { body?: unknown }).body = Buffer.concat(chunks).toString('utf8');
            next();
          });
        }),
    ],
  ])('%s', async (_label, mount) => {
    s = await startEventsApp(false, {}, mount);
    const reply = await post(s.url, body());
    expect([reply.status, reply.body]).toEqual([200, { code: 0 }]);
    expect(s.handled.map((e) => e.data)).toEqual([{ n: 1 }]);
  });

  it('refuses a Content-Length over maxBodyBytes even when a parser read it already', async () => {
    s = await startEventsApp(false, { maxBodyBytes: 1024 }, (app) => app.use(express.raw({ type: '*/*' })));
    const big = JSON.stringify(
      signWpsEvent({ topic: 'topic.ok', operation: 'c', data: 'x'.repeat(2000) }, CREDENTIALS),
    );
    expect(await post(s.url, big)).toMatchObject({ status: 413, body: { error: 'too_large' } });
    expect(s.handled).toEqual([]);
  });

  it('answers invalid_event when the parser left nothing usable (urlencoded, no body)', async () => {
    s = await startEventsApp(false, {}, (app) => app.use(express.urlencoded({ extended: false })));
    const form = await post(s.url, 'topic=topic.ok', {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect([form.status, form.body]).toEqual([400, { error: 'invalid_event' }]);
    const empty = await post(s.url, '');
    expect([empty.status, empty.body]).toEqual([400, { error: 'invalid_event' }]);
    expect((await postJson(s.url, JSON.parse(body()))).status).toBe(200);
  });
});
