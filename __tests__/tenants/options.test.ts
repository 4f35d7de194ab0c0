import express from 'express';
import session from 'express-session';
import { redisTenantStore, wpsAuth, wpsEvents, wpsTenants, type WpsRedisClient, type WpsTenants } from '../../lib';
import { resolveTenantsConfig } from '../../lib/tenants/config';
import { ISV } from './helpers';

// The options of wpsTenants, and how wpsEvents and wpsAuth take `tenants`: every problem named, no value shown.

describe('wpsTenants options', () => {
  it('fills in the defaults, with clientId and clientSecret from the environment', () => {
    const config = resolveTenantsConfig(undefined, { WPS_CLIENT_ID: 'env-id', WPS_CLIENT_SECRET: 'env-secret' });
    expect(config).toMatchObject({
      clientId: 'env-id',
      clientSecret: 'env-secret',
      baseUrl: 'https://openapi.wps.cn',
      ticketWaitMs: 10_000,
      refreshSkewMs: 60_000,
      timeoutMs: 10_000,
      signRequests: false,
      store: undefined,
      tokenKeys: undefined,
    });
    expect(
      resolveTenantsConfig({ ...ISV, baseUrl: 'http://127.0.0.1:9/', tokenEncryptionKey: 'k'.repeat(32) }, {}),
    ).toMatchObject({ baseUrl: 'http://127.0.0.1:9', tokenKeys: ['k'.repeat(32)] });
  });

  it('names every problem, and never a value', () => {
    const secret = 'a-secret-that-must-not-show';
    let message = '';
    try {
      wpsTenants({
        clientId: '',
        clientSecret: secret,
        baseUrl: 'ftp://x',
        ticketWaitMs: 0.5,
        tokenEncryptionKey: 'short',
        store: {} as never,
        onInstall: 'not a function' as never,
        logger: 42 as never,
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(
      [
        'express-wps-oauth: invalid wpsTenants options:',
        '  - clientId is not allowed to be empty',
        '  - baseUrl must be an http(s) origin',
        '  - store must be a tenant store, such as redisTenantStore(client)',
        '  - ticketWaitMs must be a whole number of ms from 1 to 120000',
        '  - tokenEncryptionKey must be at least 32 characters long (a random key, not a password)',
        '  - logger must have debug, info, warn and error; pino, winston and console fit',
        '  - onInstall must be a function: (companyId, info) => …',
      ].join('\n'),
    );
    expect(message).not.toContain(secret);
  });

  it('asks for credentials, and for an options object', () => {
    expect(() => resolveTenantsConfig({}, {})).toThrow(
      'express-wps-oauth: invalid wpsTenants options:\n' +
        '  - clientId is required (or set WPS_CLIENT_ID)\n' +
        '  - clientSecret is required (or set WPS_CLIENT_SECRET)',
    );
    expect(() => wpsTenants('secret' as never)).toThrow(
      'express-wps-oauth: wpsTenants(options) expects an options object, e.g. wpsTenants({ store: redisTenantStore(redis) })',
    );
  });
});

describe('redisTenantStore', () => {
  it('refuses what is not a Redis client, and bad options, when it is created', () => {
    expect(() => redisTenantStore('redis://127.0.0.1' as unknown as WpsRedisClient)).toThrow(
      'express-wps-oauth: redisTenantStore(client) cannot use this client: got a string (pass a client, not its URL).',
    );
    const fakeClient = { isOpen: true, withTypeMapping: () => {}, set() {}, get() {}, del() {}, eval() {} };
    expect(() =>
      redisTenantStore(fakeClient as unknown as WpsRedisClient, { commandTimeoutMs: 0, prefix: 7 as never }),
    ).toThrow(
      'express-wps-oauth: invalid redisTenantStore options:\n' +
        '  - prefix must be a string\n' +
        '  - commandTimeoutMs must be a whole number of ms from 1 to 60000',
    );
  });
});

describe('tenants in wpsEvents and wpsAuth', () => {
  const tenants = wpsTenants(ISV);

  it('wpsEvents refuses tenants that are not wpsTenants()’s, or another app’s', () => {
    const lookalike = { clientId: ISV.clientId, client: () => {}, status: () => {} } as unknown as WpsTenants;
    expect(() => wpsEvents({ ...ISV, tenants: lookalike })).toThrow(
      'express-wps-oauth: invalid wpsEvents options:\n  - tenants must be what wpsTenants() returns',
    );
    expect(() => wpsEvents({ clientId: 'another-app', clientSecret: ISV.clientSecret, tenants })).toThrow(
      'express-wps-oauth: invalid wpsEvents options:\n  - tenants belongs to another app: give wpsTenants() and ' +
        'wpsEvents() the same clientId (APPID)',
    );
    expect(typeof wpsEvents({ ...ISV, tenants })).toBe('function');
  });

  it('wpsAuth takes wpsTenants()’s result, and refuses anything else', () => {
    const options = { ...ISV, redirectUri: 'https://app.example.com/cb' };
    expect(() => wpsAuth({ ...options, tenants: { clientId: 'x' } as unknown as WpsTenants })).toThrow(
      'express-wps-oauth: invalid wpsAuth options:\n  - tenants must be what wpsTenants() returns',
    );
    const app = express().use(session({ secret: 's', resave: false, saveUninitialized: false }));
    expect(() => app.use(wpsAuth({ ...options, tenants }))).not.toThrow();
  });

  it('wpsTenants() is a plain frozen object: client, status and its clientId', () => {
    expect(Object.isFrozen(tenants)).toBe(true);
    expect(Object.keys(tenants).sort()).toEqual(['client', 'clientId', 'status']);
    expect(tenants.clientId).toBe(ISV.clientId);
  });
});
