import express from 'express';
import session from 'express-session';
import request from 'supertest';
import { requireWpsToken, wpsAuth, type WpsAuthOptions } from '../../lib';
import { startFakeWps } from '../../lib/testing';
import { CLIENT_ID, CLIENT_SECRET, jsonErrors } from '../helpers/app';
import { useFakeWps } from '../helpers/fake-wps';

type Agent = ReturnType<typeof request.agent>;

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });

/** wpsAuth options for routes under `prefix` ('' for the default paths), against the fake. */
function options(prefix = '', extra: WpsAuthOptions = {}): WpsAuthOptions {
  return {
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    baseUrl: fake.url,
    redirectUri: `http://127.0.0.1${prefix}/auth/wps/callback`,
    loginPath: `${prefix}/auth/wps/login`,
    logoutPath: `${prefix}/auth/wps/logout`,
    clientSignInPath: `${prefix}/auth/wps/client-sign-in`,
    ...extra,
  };
}

/** What a route sees of req.wps: defined, signed in, and the token requireWpsToken gave it. */
const probe: express.RequestHandler = (req, res) => {
  // req.wps is undefined where wpsAuth did not run (its type, like express-openid-connect's, assumes it did).
  const wps = req.wps as typeof req.wps | undefined;
  res.json({
    defined: wps !== undefined,
    authenticated: wps?.isAuthenticated() ?? null,
    token: wps?.accessToken ?? null,
  });
};

function newApp(): express.Express {
  const app = express();
  app.use(session({ secret: 'mount-secret', resave: false, saveUninitialized: false }));
  return app;
}

/** The whole sign-in through the fake: login route → WPS → the callback route; returns where it landed. */
async function signInAt(agent: Agent, loginPath: string): Promise<string> {
  const login = await agent.get(`${loginPath}?returnTo=%2Fafter`).expect(302);
  const back = await request(login.headers.location as string)
    .get('')
    .redirects(0)
    .expect(302);
  const callback = new URL(back.headers.location as string);
  const done = await agent.get(`${callback.pathname}${callback.search}`).expect(302);
  return done.headers.location as string;
}

interface Topology {
  /** Builds the app; every topology serves GET `probe` (a route after wpsAuth saw the request). */
  build(): express.Express;
  loginPath: string;
  /** Routes that must see req.wps, signed in, with requireWpsToken's token. */
  probes: string[];
}

const topologies: Record<string, Topology> = {
  'at the root': {
    build() {
      const app = newApp();
      app.use(wpsAuth(options()));
      app.get('/x', requireWpsToken(), probe);
      return app.use(jsonErrors);
    },
    loginPath: '/auth/wps/login',
    probes: ['/x'],
  },
  "under a prefix, with the issue's default paths: app.use('/auth', wpsAuth(...))": {
    build() {
      const app = newApp();
      app.use('/auth', wpsAuth(options()));
      app.get('/auth/x', requireWpsToken(), probe);
      return app.use(jsonErrors);
    },
    loginPath: '/auth/wps/login',
    probes: ['/auth/x'],
  },
  'under a deeper prefix with its own paths': {
    build() {
      const app = newApp();
      app.use('/tenant/a', wpsAuth(options('/tenant/a')));
      app.get('/tenant/a/x', requireWpsToken(), probe);
      return app.use(jsonErrors);
    },
    loginPath: '/tenant/a/auth/wps/login',
    probes: ['/tenant/a/x'],
  },
  'in a Router mounted at the root, seen by the app and a sibling router': {
    build() {
      const app = newApp();
      const auth = express.Router();
      auth.use(wpsAuth(options()));
      const sibling = express.Router();
      sibling.get('/sibling/x', requireWpsToken(), probe);
      app.use(auth);
      app.use(sibling);
      app.get('/x', requireWpsToken(), probe);
      return app.use(jsonErrors);
    },
    loginPath: '/auth/wps/login',
    probes: ['/x', '/sibling/x'],
  },
  'in a Router mounted under a prefix': {
    build() {
      const app = newApp();
      const auth = express.Router();
      auth.use(wpsAuth(options('/sso')));
      auth.get('/x', requireWpsToken(), probe);
      app.use('/sso', auth);
      return app.use(jsonErrors);
    },
    loginPath: '/sso/auth/wps/login',
    probes: ['/sso/x'],
  },
  'inside a sub-app, seen by the parent app and by the sub-app': {
    build() {
      const app = newApp();
      const sub = express();
      sub.use(wpsAuth(options()));
      sub.get('/sub/x', requireWpsToken(), probe);
      app.use(sub);
      app.get('/x', requireWpsToken(), probe);
      return app.use(jsonErrors);
    },
    loginPath: '/auth/wps/login',
    probes: ['/x', '/sub/x'],
  },
  'inside a sub-app mounted under a prefix': {
    build() {
      const app = newApp();
      const sub = express();
      sub.use(wpsAuth(options('/portal')));
      app.use('/portal', sub);
      app.get('/portal/x', requireWpsToken(), probe);
      return app.use(jsonErrors);
    },
    loginPath: '/portal/auth/wps/login',
    probes: ['/portal/x'],
  },
  'in the parent app, seen by a sub-app and a sub-sub-app': {
    build() {
      const app = newApp();
      app.use(wpsAuth(options()));
      const sub = express();
      const subsub = express();
      subsub.get('/x', requireWpsToken(), probe);
      sub.get('/x', requireWpsToken(), probe);
      sub.use('/deeper', subsub);
      app.use('/sub', sub);
      return app.use(jsonErrors);
    },
    loginPath: '/auth/wps/login',
    probes: ['/sub/x', '/sub/deeper/x'],
  },
  'in an app whose app.request the app customised': {
    build() {
      const app = newApp();
      // Properties of the app's own, and a replaced request prototype (as some frameworks do).
      Object.defineProperty(app.request, 'tenant', { get: () => 'acme', configurable: true });
      app.request = Object.create(app.request as object, { feature: { value: 'on' } }) as typeof app.request;
      app.use(wpsAuth(options()));
      app.get('/x', requireWpsToken(), (req, res, next) => {
        const custom = req as unknown as { tenant: string; feature: string };
        if (custom.tenant !== 'acme' || custom.feature !== 'on') return next(new Error('customisation lost'));
        probe(req, res, next);
      });
      return app.use(jsonErrors);
    },
    loginPath: '/auth/wps/login',
    probes: ['/x'],
  },
};

describe.each(Object.entries(topologies))('wpsAuth mounted %s', (_name, topology) => {
  it('signs in through its routes, and every route after it sees req.wps and a token', async () => {
    const app = topology.build();
    const agent = request.agent(app);
    for (const path of topology.probes) {
      const anonymous = await agent.get(path).set('Accept', 'application/json').expect(401);
      expect(anonymous.body.code).toBe('login_required');
    }
    expect(await signInAt(agent, topology.loginPath)).toBe('/after');
    expect(fake.tokenRequests().map((r) => r.form.grant_type)).toEqual(['authorization_code']);
    const tokens = new Set<string>();
    for (const path of topology.probes) {
      const res = await agent.get(path).expect(200);
      expect(res.body).toMatchObject({ defined: true, authenticated: true });
      expect(typeof res.body.token).toBe('string');
      tokens.add(res.body.token as string);
    }
    expect(tokens.size).toBe(1);
    const logoutPath = topology.loginPath.replace(/login$/, 'logout');
    await agent.post(logoutPath).expect(302);
    expect(
      (
        await agent
          .get(topology.probes[0] as string)
          .set('Accept', 'application/json')
          .expect(401)
      ).body.code,
    ).toBe('login_required');
  });
});

describe('req.wps outside what wpsAuth saw', () => {
  it('is undefined in routes of a sub-app whose wpsAuth the request never reached, and defined again after it', async () => {
    const app = newApp();
    app.get('/before', probe);
    const sub = express();
    sub.use(wpsAuth(options()));
    app.use('/', sub);
    app.get('/after', probe);
    app.use(jsonErrors);
    expect((await request(app).get('/before').expect(200)).body.defined).toBe(false);
    expect((await request(app).get('/after').expect(200)).body).toEqual({
      defined: true,
      authenticated: false,
      token: null,
    });
  });
});

describe('two wpsAuth apps in one process', () => {
  it('keep their own clients, routes and sessions', async () => {
    const other = await startFakeWps({ clientId: 'other-client', clientSecret: 'other-secret' });
    try {
      const a = newApp().use(wpsAuth(options()));
      a.get('/x', requireWpsToken(), probe);
      const b = newApp().use(
        wpsAuth({ ...options(), clientId: 'other-client', clientSecret: 'other-secret', baseUrl: other.url }),
      );
      b.get('/x', requireWpsToken(), probe);
      const agentA = request.agent(a.use(jsonErrors));
      const agentB = request.agent(b.use(jsonErrors));
      await signInAt(agentA, '/auth/wps/login');
      await signInAt(agentB, '/auth/wps/login');
      expect(fake.tokenRequests().map((r) => r.form.client_id)).toEqual([CLIENT_ID]);
      expect(other.tokenRequests().map((r) => r.form.client_id)).toEqual(['other-client']);
      const [ta, tb] = [
        (await agentA.get('/x').expect(200)).body.token,
        (await agentB.get('/x').expect(200)).body.token,
      ];
      expect(ta).not.toBe(tb);
      // Interleaved: each request gets its own app's context.
      const both = await Promise.all([agentA.get('/x'), agentB.get('/x'), agentA.get('/x'), agentB.get('/x')]);
      expect(both.map((r) => r.body.token)).toEqual([ta, tb, ta, tb]);
    } finally {
      await other.close();
    }
  });
});

describe('a mount that cannot serve every route', () => {
  it('fails every request through it with misconfigured, showing the right line', async () => {
    const app = newApp();
    app.use('/api', wpsAuth(options()));
    app.get('/api/x', probe);
    app.use(jsonErrors);
    const res = await request(app).get('/api/x').expect(500);
    expect(res.body).toEqual({
      code: 'misconfigured',
      message:
        'express-wps-oauth: wpsAuth() is mounted at "/api", but the callback "/auth/wps/callback" (redirectUri\'s ' +
        'path), loginPath "/auth/wps/login", logoutPath "/auth/wps/logout", clientSignInPath ' +
        '"/auth/wps/client-sign-in" are outside it and would never be ' +
        'served. Route paths are full paths, as the browser sees them. Mount it at the app root — ' +
        "app.use(wpsAuth({ ... })) — or keep every route under the mount path, e.g. app.use('/api', wpsAuth({ " +
        "redirectUri: 'https://<your host>/api/auth/wps/callback', loginPath: '/api/auth/wps/login', " +
        "logoutPath: '/api/auth/wps/logout', clientSignInPath: '/api/auth/wps/client-sign-in' })).",
    });
    await request(app).get('/api/auth/wps/login').expect(500);
  });

  it('names only the routes that are outside, and accepts routes turned off', async () => {
    const app = newApp();
    app.use(
      '/sso',
      wpsAuth(
        options('', {
          loginPath: '/sso/login',
          logoutPath: false,
          clientSignInPath: false,
          redirectUri: 'http://127.0.0.1/cb',
        }),
      ),
    );
    app.use(jsonErrors);
    expect((await request(app).get('/sso/login').expect(500)).body.message).toMatch(
      /^express-wps-oauth: wpsAuth\(\) is mounted at "\/sso", but the callback "\/cb" \(redirectUri's path\) is outside it /,
    );
  });

  it('matches the mount path case-insensitively, as Express does', async () => {
    const app = newApp();
    app.use('/Auth', wpsAuth(options('/auth')));
    app.use(jsonErrors);
    const res = await request(app).get('/AUTH/wps/x').expect(404);
    expect(res.body).toEqual({});
  });
});
