import express from 'express';
import session from 'express-session';
import request from 'supertest';
import { requireWpsToken, wpsAuth, type WpsAuthOptions } from '../../lib';

import { CLIENT_ID, CLIENT_SECRET, jsonErrors } from '../helpers/app';
import { OWN_ORIGIN, postCode, ROUTE, setCookie } from './helpers';
import { useFakeWps } from '../helpers/fake-wps';

// The route and its script wherever wpsAuth is mounted: full paths, as the browser sees them; and off.

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });

function newApp(): express.Express {
  const app = express();
  app.use(session({ secret: 'mount-secret', resave: false, saveUninitialized: false }));
  return app;
}

/** wpsAuth options for routes under `prefix` ('' for the default paths), against the fake. */
function options(prefix: string, extra: WpsAuthOptions = {}): WpsAuthOptions {
  return {
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    baseUrl: fake.url,
    redirectUri: `${OWN_ORIGIN}${prefix}/auth/wps/callback`,
    loginPath: `${prefix}/auth/wps/login`,
    logoutPath: `${prefix}/auth/wps/logout`,
    clientSignInPath: `${prefix}${ROUTE}`,
    ...extra,
  };
}

const probe: express.RequestHandler = (req, res) => {
  res.json({ authenticated: req.wps.isAuthenticated(), token: req.wps.accessToken ?? null });
};

const topologies: Record<string, { build(): express.Express; prefix: string }> = {
  "under a prefix with the default paths: app.use('/auth', wpsAuth(...))": {
    prefix: '',
    build: () => {
      const app = newApp();
      app.use('/auth', wpsAuth(options('')));
      app.get('/auth/x', requireWpsToken(), probe);
      return app.use(jsonErrors);
    },
  },
  'under a deeper prefix with its own paths': {
    prefix: '/tenant/a',
    build: () => {
      const app = newApp();
      app.use('/tenant/a', wpsAuth(options('/tenant/a')));
      app.get('/tenant/a/x', requireWpsToken(), probe);
      return app.use(jsonErrors);
    },
  },
  'in a Router mounted under a prefix': {
    prefix: '/sso',
    build: () => {
      const app = newApp();
      const auth = express.Router();
      auth.use(wpsAuth(options('/sso')));
      auth.get('/x', requireWpsToken(), probe);
      app.use('/sso', auth);
      return app.use(jsonErrors);
    },
  },
  'inside a sub-app mounted under a prefix': {
    prefix: '/portal',
    build: () => {
      const app = newApp();
      const sub = express();
      sub.use(wpsAuth(options('/portal')));
      sub.get('/x', requireWpsToken(), probe);
      app.use('/portal', sub);
      return app.use(jsonErrors);
    },
  },
};

const probePath = (topology: { prefix: string }) => `${topology.prefix === '' ? '/auth' : topology.prefix}/x`;

describe.each(Object.entries(topologies))('wpsAuth mounted %s', (_name, topology) => {
  const route = `${topology.prefix}${ROUTE}`;

  it('serves the script naming the full path, and signs in through the route', async () => {
    const app = topology.build();
    const script = await request(app).get(`${route}.js`).expect(200);
    expect(script.text).toContain(`"path":"${route}"`);
    const agent = request.agent(app);
    const res = await postCode(agent, { code: fake.clientCode(), returnTo: probePath(topology) }, { path: route });
    expect([res.status, res.body.returnTo]).toEqual([200, probePath(topology)]);
    expect((await agent.get(route).expect(200)).body.signedIn).toBe(true);
    const seen = (await agent.get(probePath(topology)).expect(200)).body as { authenticated: boolean; token: string };
    expect([seen.authenticated, seen.token]).toEqual([true, expect.stringMatching(/^fake_at_/)]);
  });
});

describe('a mount that leaves the client route outside', () => {
  it('fails every request with misconfigured, naming clientSignInPath and the fix', async () => {
    const app = newApp();
    app.use('/portal', wpsAuth(options('/portal', { clientSignInPath: ROUTE })));
    app.use(jsonErrors);
    const res = await request(app).get('/portal/auth/wps/login').expect(500);
    expect(res.body).toMatchObject({ code: 'misconfigured' });
    expect(res.body.message).toBe(
      'express-wps-oauth: wpsAuth() is mounted at "/portal", but clientSignInPath "/auth/wps/client-sign-in" is ' +
        'outside it and would never be served. Route paths are full paths, as the browser sees them. Mount it at the ' +
        "app root — app.use(wpsAuth({ ... })) — or keep every route under the mount path, e.g. app.use('/portal', " +
        "wpsAuth({ redirectUri: 'https://<your host>/portal/auth/wps/callback', loginPath: '/portal/auth/wps/login', " +
        "logoutPath: '/portal/auth/wps/logout', clientSignInPath: '/portal/auth/wps/client-sign-in' })).",
    );
  });

  it('is fine once the route is off', async () => {
    const app = newApp();
    app.use('/portal', wpsAuth(options('/portal', { clientSignInPath: false })));
    app.use(jsonErrors);
    await request(app).get('/portal/auth/wps/login').expect(302);
  });
});

describe('clientSignInPath: false', () => {
  it('turns the route and its script off: the app answers those paths, and no session is touched', async () => {
    const app = newApp();
    app.use(wpsAuth(options('', { clientSignInPath: false })));
    app.get('/auth/wps/client-sign-in.js', (_req, res) => {
      res.type('text/javascript').send('// the app’s own');
    });
    app.use((req, res) => {
      res.status(404).json({ notFound: `${req.method} ${req.path}` });
    });
    const post = await postCode(request(app), { code: fake.clientCode() });
    expect([post.status, post.body, setCookie(post)]).toEqual([404, { notFound: `POST ${ROUTE}` }, undefined]);
    expect((await request(app).get(ROUTE).expect(404)).body).toEqual({ notFound: `GET ${ROUTE}` });
    expect((await request(app).get(`${ROUTE}.js`).expect(200)).text).toBe('// the app’s own');
    expect(fake.tokenRequests()).toEqual([]);
  });
});
