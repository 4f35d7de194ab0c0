/**
 * A node-redis 5 or 6 client: `createClient()` or `createCluster()` from `redis` (any modules, RESP 2 or 3). Only
 * what the Redis helpers use, typed structurally: this package never loads `redis`.
 */
export interface NodeRedisClient {
  /** `false` until `connect()` resolves and after `close()` or `destroy()`. */
  readonly isOpen: boolean;
  /** `false` while connecting or reconnecting. A v5 Cluster has none: its `isOpen` stands in. */
  readonly isReady?: boolean;
  /** `SET key value [PX ms] [NX]`, in node-redis's option shape (v5 and v6 alike). */
  set(
    key: string,
    value: string,
    options: { expiration: { type: 'PX'; value: number }; condition?: 'NX' },
  ): Promise<unknown>;
  /** `GET key`. */
  get(key: string): Promise<unknown>;
  /** `DEL keys...`. */
  del(keys: string[]): Promise<unknown>;
  /** `EVAL script numkeys keys... args...`; a Cluster routes it by its first key. */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/**
 * An ioredis 5 or 6 client: `new Redis()` or `new Cluster()` from `ioredis`. Only what the Redis helpers use, typed
 * structurally: this package never loads `ioredis`.
 */
export interface IoRedisClient {
  /** `'ready'` once connected; `'wait'`, `'connecting'`, `'reconnecting'`, `'end'`… otherwise. */
  readonly status: string;
  /** `SET key value PX ms NX`. */
  set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<unknown>;
  /** `SET key value PX ms`. */
  set(key: string, value: string, px: 'PX', ms: number): Promise<unknown>;
  /** `GET key`. */
  get(key: string): Promise<unknown>;
  /** `DEL keys...`. */
  del(...keys: string[]): Promise<unknown>;
  /** `EVAL script numkeys keys... args...`; a Cluster routes it by its first key. */
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

/**
 * A Redis client the Redis helpers ({@link redisRefreshLock}, `redisEventDedupe`) accept: node-redis 5 or 6, or
 * ioredis 5 or 6, on one Redis or a Cluster. Pass the client your app already has (the one `connect-redis` uses).
 */
export type WpsRedisClient = NodeRedisClient | IoRedisClient;

/** The commands the helpers send, in the client's own call shapes, unbounded. Internal. */
export interface RedisDialect {
  readonly kind: 'node-redis' | 'ioredis';
  /** Whether the client is connected now: when not, its commands would wait in its offline queue. */
  ready(): boolean;
  setNx(key: string, value: string, ttlMs: number): Promise<unknown>;
  setPx(key: string, value: string, ttlMs: number): Promise<unknown>;
  get(key: string): Promise<unknown>;
  del(keys: string[]): Promise<unknown>;
  eval(script: string, keys: string[], args: string[]): Promise<unknown>;
}

const METHODS = ['set', 'get', 'del', 'eval'] as const;

// The clients that work, for the message that refuses one.
const CLIENTS_THAT_WORK =
  "a client of node-redis 5 or 6 (createClient() or createCluster() from 'redis') or " +
  "of ioredis 5 or 6 (new Redis() or new Cluster() from 'ioredis')";

type Detected =
  { kind: 'node-redis'; client: NodeRedisClient } | { kind: 'ioredis'; client: IoRedisClient } | { problem: string };

/** Tell the client kind by what it offers (never by `instanceof`: the app may load its own copy of either). */
function detect(value: unknown): Detected {
  if (value === undefined || value === null) return { problem: `got ${String(value)}` };
  if (typeof value === 'string') return { problem: 'got a string (pass a client, not its URL)' };
  if (typeof value !== 'object') return { problem: `got a ${typeof value}` };
  const offered = value as Record<string, unknown>;
  const missing = METHODS.filter((name) => typeof offered[name] !== 'function');
  if (missing.length > 0) return { problem: `it has no ${missing.map((name) => `${name}()`).join(', ')}` };
  if (typeof offered['status'] === 'string') return { kind: 'ioredis', client: value as IoRedisClient };
  if (typeof offered['isOpen'] !== 'boolean') {
    return { problem: 'it has neither isOpen (node-redis) nor status (ioredis)' };
  }
  // node-redis 4 has isOpen too, but its SET ignores v5's option shape: NX would be dropped without a word.
  if (typeof offered['withTypeMapping'] !== 'function') {
    return { problem: 'it has no withTypeMapping(), so it is node-redis 4 or older, whose SET options differ' };
  }
  return { kind: 'node-redis', client: value as NodeRedisClient };
}

function nodeRedisDialect(client: NodeRedisClient): RedisDialect {
  return {
    kind: 'node-redis',
    ready: () => client.isReady ?? client.isOpen,
    setNx: (key, value, ttlMs) => client.set(key, value, { expiration: { type: 'PX', value: ttlMs }, condition: 'NX' }),
    setPx: (key, value, ttlMs) => client.set(key, value, { expiration: { type: 'PX', value: ttlMs } }),
    get: (key) => client.get(key),
    del: (keys) => client.del(keys),
    eval: (script, keys, args) => client.eval(script, { keys, arguments: args }),
  };
}

function ioRedisDialect(client: IoRedisClient): RedisDialect {
  return {
    kind: 'ioredis',
    ready: () => client.status === 'ready',
    setNx: (key, value, ttlMs) => client.set(key, value, 'PX', ttlMs, 'NX'),
    setPx: (key, value, ttlMs) => client.set(key, value, 'PX', ttlMs),
    get: (key) => client.get(key),
    del: (keys) => client.del(...keys),
    eval: (script, keys, args) => client.eval(script, keys.length, ...keys, ...args),
  };
}

/**
 * The {@link RedisDialect} of `client`, or a `TypeError` that says what it lacks and which clients work, thrown
 * when the helper named `factory` is created. Internal.
 */
export function redisDialect(client: unknown, factory: string): RedisDialect {
  const detected = detect(client);
  if ('problem' in detected) {
    throw new TypeError(
      `express-wps-oauth: ${factory}(client) cannot use this client: ${detected.problem}. ` +
        `It takes ${CLIENTS_THAT_WORK}.`,
    );
  }
  return detected.kind === 'ioredis' ? ioRedisDialect(detected.client) : nodeRedisDialect(detected.client);
}
