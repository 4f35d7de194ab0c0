import { ServiceUnavailableError } from '../errors';
import type { WpsRedisClient } from '../redis/client';
import type { RedisCommands } from '../redis/commands';
import { setUpRedisHelper } from '../redis/helper';
import { ownedKeys } from '../redis/owned-keys';
import { untimed } from './timed';
import type { StoredTenantCompany, WpsTenantStore } from './types';

/** Options of {@link redisTenantStore}. */
export interface RedisTenantStoreOptions {
  /**
   * Prepended to every key.
   * @default 'wps-tenants:'
   */
  prefix?: string | undefined;
  /**
   * How long to wait for Redis to answer one command before treating it as unavailable (calls for companies then
   * fail with `store_unavailable`, and this is logged once). A whole number of ms, 1 to 60000.
   * @default 1000
   */
  commandTimeoutMs?: number | undefined;
}

/** Thrown by {@link redisTenantStore} when Redis is not usable, with a message safe to log. Internal. */
export class TenantStoreUnavailableError extends ServiceUnavailableError {
  override readonly name = 'TenantStoreUnavailableError';
}

// Store ARGV[2] as `<time>|<value>` unless the stored value's time is later; KEYS[2..] are dropped when stored.
const PUT_NEWER = `
local current = redis.call('get', KEYS[1])
if current then
  local t = tonumber(string.match(current, '^(%d+)|'))
  if t and t > tonumber(ARGV[1]) then return 0 end
end
redis.call('set', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'PX', ARGV[3])
if #KEYS > 1 then redis.call('del', unpack(KEYS, 2)) end
return 1`;

const GET_COMPANY = "return redis.call('mget', KEYS[1], KEYS[2], KEYS[3])";

/** A reply element as a string, or `undefined` (nil, or a client's Buffer decoded). */
function text(reply: unknown): string | undefined {
  if (typeof reply === 'string') return reply;
  return Buffer.isBuffer(reply) ? reply.toString('utf8') : undefined;
}

/** The {@link StoredTenantCompany} of a `GET_COMPANY` reply. */
function companyOf(reply: unknown): StoredTenantCompany {
  const [state, token, refusal] = Array.isArray(reply) ? reply.map(text) : [];
  const timedState = untimed(state);
  return {
    state: timedState && { state: timedState.value, time: timedState.time },
    token,
    refusal,
  };
}

/** The store's operations on the keys of `prefix`. */
function tenantStoreOn(commands: RedisCommands, prefix: string): WpsTenantStore {
  const claims = ownedKeys(commands, prefix);
  // One company's keys share a hash tag, so that one script may touch them all on a Cluster.
  const keysOf = (companyId: string) => {
    const tag = `${prefix}{${encodeURIComponent(companyId)}}:`;
    return { state: `${tag}state`, token: `${tag}token`, refusal: `${tag}refusal` };
  };
  const ticketKey = `${prefix}ticket`;
  return {
    getTicket: async () => untimed(await commands.get(ticketKey)),
    putTicket: async (value, time, ttlMs) =>
      Number(await commands.evalScript(PUT_NEWER, [ticketKey], [String(time), value, String(ttlMs)])) === 1,
    async getCompany(companyId) {
      const k = keysOf(companyId);
      return companyOf(await commands.evalScript(GET_COMPANY, [k.state, k.token, k.refusal], []));
    },
    async putState(companyId, { state, time }, ttlMs) {
      const k = keysOf(companyId);
      const args = [String(time), state, String(ttlMs)];
      return Number(await commands.evalScript(PUT_NEWER, [k.state, k.token, k.refusal], args)) === 1;
    },
    putToken: (companyId, value, ttlMs) => commands.set(keysOf(companyId).token, value, ttlMs),
    // A compare-and-delete, like a lock's release: the token is dropped only if it is still this one.
    dropToken: (companyId, value) => ownedKeys(commands, '').release(keysOf(companyId).token, value),
    putRefusal: (companyId, value, ttlMs) => commands.set(keysOf(companyId).refusal, value, ttlMs),
    claim: (key, owner, ttlMs) => claims.take(key, owner, ttlMs),
    release: (key, owner) => claims.release(key, owner),
  };
}

/**
 * A {@link WpsTenantStore} in Redis, for a marketplace app run as several instances: the newest app ticket (whichever
 * instance WPS pushed it to), each company's tenant token and install state, the lock that makes one token request
 * per company at a time, and the claims that limit `ticket/active` calls and run each install hook once.
 *
 * Takes the same clients as `redisRefreshLock`: node-redis 5 or 6 (`createClient()`, `createCluster()`) or ioredis
 * 5 or 6 (`new Redis()`, `new Cluster()`); anything else is refused here with a `TypeError` saying what it lacks.
 * One company's keys share a hash tag (`<prefix>{<company id>}:state`, `:token`, `:refusal`), so the scripts that
 * touch several of them run on one Cluster slot; the ticket and every claim are one key each. Every key expires.
 * With `wpsTenants({ tokenEncryptionKey })`, tickets and tokens are stored encrypted.
 *
 * Redis unusable (not connected, or no answer within `commandTimeoutMs`): calls for companies fail with a 503
 * `store_unavailable`, and events that need the store are answered 500 so that WPS delivers them again; the
 * outage is logged once when it starts and once when it ends.
 *
 * @example
 * import express from 'express';
 * import { createClient } from 'redis';
 * import { redisTenantStore, wpsEvents, wpsTenants } from 'express-wps-oauth';
 *
 * const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
 * redis.on('error', (err: Error) => console.error('redis', err.message));
 * await redis.connect();
 * const tenants = wpsTenants({ store: redisTenantStore(redis, { prefix: 'my-app:tenants:' }) });
 * express().post('/wps/events', wpsEvents({ tenants }));
 */
export function redisTenantStore(client: WpsRedisClient, options: RedisTenantStoreOptions = {}): WpsTenantStore {
  const { commands, prefix } = setUpRedisHelper(client, options, {
    factory: 'redisTenantStore',
    what: 'the tenant store',
    defaultPrefix: 'wps-tenants:',
    unavailable: TenantStoreUnavailableError,
  });
  return tenantStoreOn(commands, prefix);
}
