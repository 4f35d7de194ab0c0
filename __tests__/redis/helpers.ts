import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis as IoRedis } from 'ioredis';
import { createClient } from 'redis';
import ts from 'typescript';
import type { WpsRedisClient } from '../../lib';

/**
 * Where the Redis tests find Redis: REDIS_URL, or a Redis answering on 127.0.0.1:6379 (found by
 * __tests__/global-setup.js). Neither: the Redis suites are skipped, each with one line saying why.
 */
export const REDIS_URL = process.env.REDIS_URL;

/** `describe` when Redis is there, else `describe.skip` plus one printed line saying why and how to run it. */
export function describeRedis(name: string, fn: () => void): void {
  if (REDIS_URL) {
    describe(name, fn);
    return;
  }
  // One line per skipped group, from the first Jest project only. Straight to stderr: Jest drops console output of
  // a file whose tests are all skipped.
  if (FIRST_JEST_PROJECT) {
    process.stderr.write(
      `skipped "${name}": no Redis (REDIS_URL is unset and nothing answers at 127.0.0.1:6379); start redis-server ` +
        'to run it (.ci/run starts one)\n',
    );
  }
  describe.skip(name, fn);
}

/**
 * False in the Express 5 Jest project (jest.config.js). Forked app instances load Express 4 whatever Jest maps,
 * so suites built on them run in one project only instead of twice.
 */
export const FIRST_JEST_PROJECT = (globalThis as { EXPRESS_MAJOR?: number }).EXPRESS_MAJOR !== 5;

export type Redis = ReturnType<typeof createClient>;

/** A connected client, quiet about the errors a test provokes on purpose. */
export async function connectRedis(url = REDIS_URL as string, options: { reconnect?: boolean } = {}): Promise<Redis> {
  const client = createClient({
    url,
    socket: options.reconnect === false ? { reconnectStrategy: false } : { reconnectStrategy: () => 50 },
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** A connected ioredis client (reconnecting every 50 ms unless `reconnect` is false), quiet about provoked errors. */
export async function connectIoRedis(
  url = REDIS_URL as string,
  options: { reconnect?: boolean } = {},
): Promise<IoRedis> {
  const client = new IoRedis(url, {
    lazyConnect: true,
    retryStrategy: options.reconnect === false ? () => null : () => 50,
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** The client packages the normal suite runs the Redis helpers with (the matrix covers every major version). */
export type ClientKind = 'node-redis' | 'ioredis';
export const CLIENT_KINDS: ClientKind[] = ['node-redis', 'ioredis'];

/** A connected client of either kind, as the Redis helpers take it. */
export interface KindClient {
  kind: ClientKind;
  client: WpsRedisClient;
  /** Whether the client says it is connected (node-redis `isReady`, ioredis `status === 'ready'`). */
  ready(): boolean;
  /** Disconnect at once. */
  close(): void;
}

/** Connect a client of `kind` to `url` (reconnecting every 50 ms). */
export async function connectKind(kind: ClientKind, url = REDIS_URL as string): Promise<KindClient> {
  if (kind === 'ioredis') {
    const io = await connectIoRedis(url);
    return { kind, client: io, ready: () => io.status === 'ready', close: () => io.disconnect() };
  }
  const node = await connectRedis(url);
  return { kind, client: node, ready: () => node.isReady, close: () => node.destroy() };
}

/** A key prefix no other run (or parallel test file) uses. */
export function uniquePrefix(): string {
  return `wps-test:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** Every key under `prefix`. */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 200 })) keys.push(...batch);
  return keys;
}

/** Delete every key under `prefix`. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(redis, prefix);
  if (keys.length > 0) await redis.del(keys);
}

/**
 * Compile lib/ to CommonJS in a temporary directory (transpile only: tsc checks types elsewhere), so forked app
 * processes run the current source without touching dist/, which other suites may be reading.
 */
export async function transpileLib(): Promise<string> {
  const root = path.resolve(__dirname, '../../lib');
  const out = await mkdtemp(path.join(os.tmpdir(), 'wps-lib-'));
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(rel);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const source = await readFile(path.join(root, rel), 'utf8');
        const { outputText } = ts.transpileModule(source, {
          fileName: rel,
          compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
        });
        await mkdir(path.join(out, dir), { recursive: true });
        await writeFile(path.join(out, rel.replace(/\.ts$/, '.js')), outputText);
      }
    }
  }
  await walk('.');
  return out;
}

/** Remove a directory made by {@link transpileLib}. */
export function removeDir(dir: string | undefined): Promise<void> {
  return dir === undefined ? Promise.resolve() : rm(dir, { recursive: true, force: true });
}

/** A forked app instance (fixtures/instance.js). */
export interface Instance {
  port: number;
  child: ChildProcess;
  /** Every line the instance's logger printed, as `level message meta`. */
  logs: string[];
  /** Stop it (SIGTERM), and wait for it to exit. */
  stop(): Promise<void>;
}

/** What a forked instance may report over IPC besides its port and its log lines. */
export type InstanceMessage = { ready?: number; log?: string } & Record<string, unknown>;

/**
 * Fork one app instance with these settings; resolves once it listens. `fixture`: the app to fork (default
 * fixtures/instance.js); `onMessage` sees every IPC message it sends.
 */
export function startInstance(
  env: Record<string, string>,
  options: { fixture?: string; onMessage?: (msg: InstanceMessage) => void } = {},
): Promise<Instance> {
  const root = path.resolve(__dirname, '../..');
  const child = fork(options.fixture ?? path.join(__dirname, 'fixtures/instance.js'), [], {
    env: { ...process.env, NODE_PATH: path.join(root, 'node_modules'), ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const logs: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error('the app instance did not start within 10 s'));
    }, 10_000);
    child.on('message', (msg: InstanceMessage) => {
      options.onMessage?.(msg);
      if (msg.log !== undefined) logs.push(msg.log);
      if (msg.ready !== undefined) {
        clearTimeout(timer);
        resolve({ port: msg.ready, child, logs, stop });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the app instance exited before listening (code ${String(code)}, signal ${String(signal)})`));
    });
  });
}

/** What a forked events instance (__tests__/events/fixtures/events-instance.js) reported. */
export interface EventInstance {
  /** Its `wpsEvents()` URL. */
  url: string;
  handled: { pid: number; nonce: string; data: unknown }[];
  logs: string[];
  stop(): Promise<void>;
}

/** Fork an events instance (wpsEvents with the Redis dedupe) with these settings; resolves once it listens. */
export async function startEventInstance(env: Record<string, string>): Promise<EventInstance> {
  const handled: EventInstance['handled'] = [];
  const instance = await startInstance(env, {
    fixture: path.join(__dirname, '../events/fixtures/events-instance.js'),
    onMessage: (msg) => {
      if (msg.handled !== undefined) handled.push(msg.handled as EventInstance['handled'][number]);
    },
  });
  return {
    url: `http://127.0.0.1:${instance.port}/wps/events`,
    handled,
    logs: instance.logs,
    stop: () => instance.stop(),
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** A response, with the body parsed when it is JSON and how long the request took. */
export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  ms: number;
}

/** One HTTP request to `url` (loopback only), with an optional session cookie. */
export function send(url: string, options: { method?: string; cookie?: string } = {}): Promise<Reply> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: options.method ?? 'GET', agent, headers: options.cookie ? { cookie: options.cookie } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: Record<string, unknown> = {};
          if ((res.headers['content-type'] ?? '').includes('json')) body = JSON.parse(text) as Record<string, unknown>;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ms: Date.now() - started });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The `name=value` of the session cookie a response set. */
export function sessionCookie(reply: Reply): string {
  const header = reply.headers['set-cookie']?.find((c) => c.startsWith('connect.sid='));
  if (header === undefined) throw new Error(`no session cookie set (HTTP ${reply.status})`);
  return header.split(';')[0] as string;
}

/** The session id inside a signed `connect.sid=s:<id>.<signature>` cookie. */
export function sessionId(cookie: string): string {
  const value = decodeURIComponent(cookie.slice('connect.sid='.length));
  return value.slice(2, value.lastIndexOf('.'));
}

/** Sign in through `base` (login → fake WPS → callback) and return the session cookie. */
export async function signInAt(base: string): Promise<string> {
  const login = await send(`${base}/auth/wps/login`);
  if (login.status !== 302) throw new Error(`login answered ${login.status}`);
  const auth = await send(login.headers.location as string);
  if (auth.status !== 302) throw new Error(`the fake WPS refused the authorization: ${auth.status}`);
  const back = new URL(auth.headers.location as string);
  const callback = await send(`${base}${back.pathname}${back.search}`, { cookie: sessionCookie(login) });
  if (callback.status !== 302) throw new Error(`callback answered ${callback.status} ${JSON.stringify(callback.body)}`);
  return sessionCookie(callback);
}

/** Poll `check` every 10 ms until it holds, for at most `ms`. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A TCP proxy to Redis that a test can take down, bring back, or freeze (accept, but forward nothing until thawed). */
export interface RedisProxy {
  url: string;
  down(): Promise<void>;
  up(): Promise<void>;
  freeze(frozen: boolean): void;
  close(): Promise<void>;
}

/**
 * Start a {@link RedisProxy} on 127.0.0.1 in front of `target` (a redis:// URL on loopback). Its `url` is `target`
 * with the proxy's host and port: the database number and any credentials are kept.
 */
export async function startRedisProxy(target: string): Promise<RedisProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  const thaws = new Set<() => void>();
  let frozen = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    // Frozen: hold what the client sends, as a stalled network would, and deliver it when thawed.
    const held: Buffer[] = [];
    const thaw = () => {
      for (const d of held.splice(0)) upstream.write(d);
    };
    thaws.add(thaw);
    client.on('close', () => thaws.delete(thaw));
    client.on('data', (d: Buffer) => {
      if (frozen) held.push(d);
      else upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => client.write(d));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const listen = (p: number) => new Promise<void>((resolve) => server.listen(p, '127.0.0.1', () => resolve()));
  await listen(0);
  const proxyPort = (server.address() as net.AddressInfo).port;
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(proxyPort);
  const down = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  return {
    url: url.href,
    down,
    up: () => listen(proxyPort),
    freeze(value) {
      frozen = value;
      if (!value) for (const thaw of thaws) thaw();
    },
    close: () => (server.listening ? down() : Promise.resolve()),
  };
}
