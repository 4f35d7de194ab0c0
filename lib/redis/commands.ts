import { reasonOf, type ServiceUnavailableError } from '../errors';
import type { RedisDialect } from './client';

/**
 * The commands a Redis helper may send, the same for every client kind and topology. Each one fails fast when the
 * client is not ready, is bounded by the helper's `commandTimeoutMs`, and rejects with the helper's own
 * {@link ServiceUnavailableError} (a message safe to log: no key, no value, no URL).
 *
 * Cluster routing: a command goes to the slot of its (first) key. A command with several keys (`del`,
 * `evalScript`) must keep them in one slot, so their keys must share a hash tag — the text between the first `{`
 * and the next `}`, such as `{tenant-42}` in `app:{tenant-42}:token` and `app:{tenant-42}:meta`. This is enforced
 * on every topology, so that a helper tested on one Redis works on a Cluster. Internal.
 */
export interface RedisCommands {
  /** `SET key value PX ttlMs NX`: `true` when set, `false` when the key was there. */
  setNx(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** `SET key value PX ttlMs`: every key a helper writes expires. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** `GET key`: the value as a string, or `null`. */
  get(key: string): Promise<string | null>;
  /** `DEL keys...` (one hash tag): how many were deleted. */
  del(keys: string[]): Promise<number>;
  /** `EVAL script` with at least one key (all of one hash tag) and `args`: the script's reply. */
  evalScript(script: string, keys: string[], args: string[]): Promise<unknown>;
}

/** Who sends the commands: its name in messages, its time bound, and the error it throws when Redis is unusable. */
export interface RedisCaller {
  /** E.g. `the refresh lock`. */
  what: string;
  commandTimeoutMs: number;
  unavailable: new (message: string) => ServiceUnavailableError;
}

/** The hash tag of `key` as Redis Cluster reads it: what is between the first `{` and the next `}`, if not empty. */
export function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

/** Refuse (as a programming error, naming no key) keys that a Cluster may spread over several slots. */
function checkOneSlot(command: string, keys: string[]): void {
  const tag = hashTag(keys[0] ?? '');
  if (keys.some((key) => hashTag(key) !== tag)) {
    throw new TypeError(
      `express-wps-oauth: the keys of one ${command} must share a hash tag ({…}), or a Redis Cluster may spread ` +
        'them over several slots',
    );
  }
}

/**
 * Why a command failed, safe to log: the error's name and code ({@link reasonOf}) and, for an error reply, the
 * reply's code word (`WRONGTYPE`, `CROSSSLOT`, `NOAUTH`…) — never the rest of its text.
 */
function failureOf(err: unknown): string {
  const reply = err instanceof Error ? /^([A-Z][A-Z_-]{1,31})(?: |$)/.exec(err.message)?.[1] : undefined;
  return reply === undefined ? reasonOf(err) : `${reasonOf(err)} ${reply}`;
}

/** {@link RedisCommands} on `dialect`, for `caller`. */
export function redisCommands(dialect: RedisDialect, caller: RedisCaller): RedisCommands {
  const { what, commandTimeoutMs, unavailable } = caller;

  function bounded<T>(name: string, command: () => Promise<T>): Promise<T> {
    if (!dialect.ready()) {
      return Promise.reject(
        new unavailable(`the Redis client of ${what} is not ready (not connected or reconnecting)`),
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new unavailable(`Redis did not answer ${what}'s ${name} within ${commandTimeoutMs} ms`)),
        commandTimeoutMs,
      );
    });
    // A command that times out stays queued in the client and may still run later; every key written expires.
    const answered = Promise.resolve()
      .then(command)
      .catch((err: unknown) => {
        throw new unavailable(`Redis failed ${what}'s ${name}: ${failureOf(err)}`);
      });
    return Promise.race([answered, timeout]).finally(() => clearTimeout(timer));
  }

  return {
    async setNx(key, value, ttlMs) {
      return (await bounded('SET NX', () => dialect.setNx(key, value, ttlMs))) !== null;
    },
    async set(key, value, ttlMs) {
      await bounded('SET', () => dialect.setPx(key, value, ttlMs));
    },
    async get(key) {
      const reply = await bounded('GET', () => dialect.get(key));
      if (typeof reply === 'string' || reply === null) return reply;
      // A client with a type mapping (node-redis withTypeMapping) may answer with a Buffer.
      if (Buffer.isBuffer(reply)) return reply.toString('utf8');
      throw new unavailable(`Redis answered ${what}'s GET with a ${typeof reply}, not a string`);
    },
    async del(keys) {
      if (keys.length === 0) return 0;
      checkOneSlot('DEL', keys);
      return Number(await bounded('DEL', () => dialect.del(keys)));
    },
    async evalScript(script, keys, args) {
      if (keys.length === 0) throw new TypeError('express-wps-oauth: EVAL needs at least one key, to route it');
      checkOneSlot('EVAL', keys);
      return bounded('EVAL', () => dialect.eval(script, keys, args));
    },
  };
}
