import { readFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import ts from 'typescript';
import type { WpsEvent } from '../../lib';
import { sendWpsChallenge, sendWpsEvent, signWpsEvent } from '../../lib/testing';
import { parseMarkdown } from '../docs/markdown';
import { CREDENTIALS, post, postJson, waitFor } from './helpers';

// The verifyWpsEvent adapters of docs/events.md (node:http, Koa, Fastify), run as they are written: each block is
// taken from the Markdown, its package import pointed at lib/, compiled to CommonJS and loaded here; then the test
// sender of express-wps-oauth/testing talks to it over loopback.

const GUIDE = 'docs/events.md';
const doc = parseMarkdown(readFileSync(join(__dirname, '..', '..', GUIDE), 'utf8'), GUIDE);

type OnEvent = (event: WpsEvent) => Promise<void>;
type Factory = (credentials: typeof CREDENTIALS, onEvent: OnEvent) => unknown;

/** The block under `section`, compiled and loaded: its exports. */
function load(section: string): Record<string, Factory> {
  const blocks = doc.blocks.filter((b) => b.section === section);
  if (blocks.length !== 1 || blocks[0]?.lang !== 'ts')
    throw new Error(`${GUIDE}: expected one ts block under ${section}`);
  const source = blocks[0].code;
  if (!source.includes("from 'express-wps-oauth';")) throw new Error(`${section}: no import of express-wps-oauth`);
  const pointed = source.split("from 'express-wps-oauth';").join("from '../../lib';");
  const { outputText } = ts.transpileModule(pointed, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: 'adapter.ts',
  });
  const module = { exports: {} as Record<string, Factory> };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the docs' code, compiled just above, is the test
  new Function('require', 'module', 'exports', outputText)(require, module, module.exports);
  return module.exports;
}

/** A started adapter: its event URL, and how to stop it. */
interface Started {
  url: string;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<Started> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/wps/events`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const ADAPTERS: [string, (onEvent: OnEvent) => Promise<Started>][] = [
  [
    '### A bare `node:http` server',
    (onEvent) => listen(load('### A bare `node:http` server').createEventServer!(CREDENTIALS, onEvent) as Server),
  ],
  [
    '### Koa',
    (onEvent) => {
      const app = load('### Koa').createKoaApp!(CREDENTIALS, onEvent) as { callback(): RequestListener };
      return listen(createServer(app.callback()));
    },
  ],
  [
    '### Fastify',
    async (onEvent) => {
      const app = load('### Fastify').createFastifyApp!(CREDENTIALS, onEvent) as {
        listen(o: { port: number; host: string }): Promise<string>;
        close(): Promise<void>;
      };
      const address = await app.listen({ port: 0, host: '127.0.0.1' });
      return { url: `${address}/wps/events`, close: () => app.close() };
    },
  ],
];

describe.each(ADAPTERS)('the verifyWpsEvent adapter of %s', (_section, start) => {
  const received: WpsEvent[] = [];
  let s: Started;
  beforeAll(async () => {
    s = await start(async (event) => {
      received.push(event);
      await Promise.resolve();
    });
  });
  afterAll(() => s.close());

  it('answers the URL check with the challenge', async () => {
    expect(await sendWpsChallenge(s.url, 'challenge-1')).toEqual({ status: 200, body: { challenge: 'challenge-1' } });
    expect(received).toEqual([]);
  });

  it('acknowledges a good event with 200 {"code": 0} and hands it, decrypted, to onEvent', async () => {
    const event = { topic: 'kso.app_chat.message', operation: 'create', data: { chat_id: 'c1', text: '你好' } };
    expect(await sendWpsEvent(s.url, event, CREDENTIALS)).toEqual({ status: 200, body: { code: 0 } });
    await waitFor(() => received.length === 1);
    expect(received[0]).toMatchObject(event);
  });

  it('refuses a tampered event with 401 invalid_signature, and runs nothing', async () => {
    const before = received.length;
    const good = signWpsEvent({ topic: 'kso.app_chat.message', operation: 'create', data: { n: 1 } }, CREDENTIALS);
    const tampered = { ...good, topic: 'kso.app_chat.other' };
    expect(await postJson(s.url, tampered)).toMatchObject({ status: 401, body: { error: 'invalid_signature' } });
    const otherKey = await sendWpsEvent(
      s.url,
      { topic: 't.x', operation: 'create', data: 1 },
      { ...CREDENTIALS, clientSecret: 'another-app-key' },
    );
    expect(otherKey).toEqual({ status: 401, body: { error: 'invalid_signature' } });
    expect(received.length).toBe(before);
  });

  it('refuses a stale event (401), and a body that is not JSON or empty (400)', async () => {
    const old = signWpsEvent(
      { topic: 't.x', operation: 'create', data: 1, time: Math.floor(Date.now() / 1000) - 3600 },
      CREDENTIALS,
    );
    expect(await postJson(s.url, old)).toMatchObject({ status: 401, body: { error: 'stale_event' } });
    for (const text of ['not json', '']) {
      expect(await post(s.url, text)).toMatchObject({ status: 400, body: { error: 'invalid_event' } });
    }
  });

  it('acknowledges a re-delivery without handing it to onEvent again', async () => {
    const body = signWpsEvent({ topic: 't.repeat', operation: 'create', data: { n: 2 } }, CREDENTIALS);
    expect((await postJson(s.url, body)).body).toEqual({ code: 0 });
    expect((await postJson(s.url, body)).body).toEqual({ code: 0 });
    // A later event arrives after any work the repeat could have started.
    await sendWpsEvent(s.url, { topic: 't.after', operation: 'create', data: 3 }, CREDENTIALS);
    await waitFor(() => received.some((e) => e.topic === 't.after'));
    expect(received.filter((e) => e.topic === 't.repeat')).toHaveLength(1);
  });

  it('refuses a body over 1 MiB with 413', async () => {
    const reply = await post(s.url, JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }));
    expect(reply.status).toBe(413);
  });
});
