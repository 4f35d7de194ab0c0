import express from 'express';
import expressPackage from 'express/package.json';
import request from 'supertest';
import { WpsAuthError } from '../../lib';
import { ERROR_STATUS } from '../../lib/errors';
import { CLIENT_ID, CLIENT_SECRET, createTestApp, REDIRECT_URI, signIn, type TestApp } from '../helpers/app';
import { useFakeWps } from '../helpers/fake-wps';
import { DOCUMENTED_ERROR_CODES } from './documented-codes';
import { storedRecord } from '../helpers/stored';

/** Set per Jest project in jest.config.js. */
declare const EXPRESS_MAJOR: number;

// The runtime side of the *.types.ts files: what the types promise is what the objects are.

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] });
let t: TestApp;

beforeEach(() => {
  t = createTestApp(fake);
  t.app.get('/test/shape', (req, res) => {
    res.json({
      isAuthenticated: typeof req.wps.isAuthenticated,
      getAccessToken: typeof req.wps.getAccessToken,
      logout: typeof req.wps.logout,
      accessToken: req.wps.accessToken === undefined ? 'undefined' : typeof req.wps.accessToken,
      expiresAt: req.wps.expiresAt instanceof Date ? 'Date' : String(req.wps.expiresAt),
      authenticated: req.wps.isAuthenticated(),
      sessionKeys: Object.keys(storedRecord(req.session) ?? {}).sort(),
      tokenKeys: Object.keys(storedRecord(req.session)?.tokens ?? {}).sort(),
    });
  });
});

describe('the Express under test', () => {
  it('is the major this Jest project maps `express` to', () => {
    expect(Number(expressPackage.version.split('.')[0])).toBe(EXPRESS_MAJOR);
    // Express 5 dropped app.del: proves the running module, not only its package.json, is the mapped one.
    expect(typeof (express() as unknown as { del?: unknown }).del).toBe(EXPRESS_MAJOR === 4 ? 'function' : 'undefined');
  });
});

describe('req.wps and req.session.wps at runtime', () => {
  it('has the typed members before sign-in, and getAccessToken rejects with login_required', async () => {
    const before = await request(t.app).get('/test/shape').expect(200);
    expect(before.body).toEqual({
      isAuthenticated: 'function',
      getAccessToken: 'function',
      logout: 'function',
      accessToken: 'undefined',
      expiresAt: 'undefined',
      authenticated: false,
      sessionKeys: [],
      tokenKeys: [],
    });
    const token = await request(t.app).get('/test/token').expect(401);
    expect(token.body.code).toBe('login_required');
    expect(t.errors[0]).toBeInstanceOf(WpsAuthError);
  });

  it('holds a token record with the typed keys after sign-in', async () => {
    const agent = request.agent(t.app);
    await signIn(agent);
    const after = await agent.get('/test/shape').expect(200);
    expect(after.body).toMatchObject({ expiresAt: 'Date', authenticated: true });
    expect(after.body.sessionKeys).toContain('tokens');
    expect(after.body.tokenKeys).toEqual([
      'accessToken',
      'expiresAt',
      'refreshExpiresAt',
      'refreshToken',
      'rev',
      'tokenType',
    ]);
    const token = await agent.get('/test/token').expect(200);
    expect(token.body.token).toMatch(/^fake_at_/);
  });
});

describe('WpsAuthError codes', () => {
  it('are exactly the documented ones, each with its status', () => {
    expect(Object.keys(ERROR_STATUS).sort()).toEqual([...DOCUMENTED_ERROR_CODES].sort());
    for (const code of DOCUMENTED_ERROR_CODES) {
      const err = new WpsAuthError(code, 'm');
      expect([err.code, err.status, err.statusCode, err.expose]).toEqual([
        code,
        ERROR_STATUS[code],
        ERROR_STATUS[code],
        ERROR_STATUS[code] < 500,
      ]);
    }
  });
});
