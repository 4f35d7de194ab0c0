import express from 'express';
import session, { type Session } from 'express-session';
import request from 'supertest';
import { interceptSave, type SaveGuard } from '../../lib/session/save-seam';

// The one seam in express-session (docs/internals.md): these tests run against the express-session installed, which
// CI also replaces by the oldest supported version (1.17.0).

interface Seen {
  guarded: number;
  wrote: string[];
  keys: string[];
  enumerable: boolean | undefined;
}

/** A guard that records each save it sees, changes the session before the write, and writes once. */
function recordingGuard(seen: Seen): SaveGuard<Session & { note?: string }> {
  return {
    async aroundSave(target, write) {
      seen.guarded++;
      target.note = 'set by the guard';
      await write();
      seen.wrote.push(target.note);
    },
  };
}

function appWith(seen: Seen, route: (s: Session & { note?: string }) => Promise<void> | void) {
  const store = new session.MemoryStore();
  const app = express();
  app.use(session({ secret: 's', resave: false, saveUninitialized: false, store }));
  app.get('/start', (req, res) => {
    (req.session as Session & { note?: string }).note = 'started';
    res.json({ id: req.sessionID });
  });
  app.get('/guarded', (req, res, next) => {
    const s = req.session as Session & { note?: string };
    const own = interceptSave(s, recordingGuard(seen), s);
    seen.keys = Object.keys(s);
    seen.enumerable = Object.getOwnPropertyDescriptor(s, 'save')?.enumerable;
    expect(typeof own).toBe('function');
    Promise.resolve(route(s)).then(() => res.json({ id: req.sessionID }), next);
  });
  return { app, store };
}

async function storedNote(store: session.MemoryStore, sid: string): Promise<string | undefined> {
  return new Promise((resolve, reject) =>
    store.get(sid, (err, s) => (err ? reject(err as Error) : resolve((s as { note?: string } | null)?.note))),
  );
}

describe("the save seam (express-session's end-of-request save)", () => {
  it('sees the save express-session makes at the end of a request that changed the session', async () => {
    const seen: Seen = { guarded: 0, wrote: [], keys: [], enumerable: undefined };
    const { app, store } = appWith(seen, (s) => {
      s.note = 'changed by the route';
    });
    const agent = request.agent(app);
    const { id } = (await agent.get('/start').expect(200)).body as { id: string };
    await agent.get('/guarded').expect(200);
    expect(seen.guarded).toBe(1);
    expect(seen.wrote).toEqual(['set by the guard']);
    expect(await storedNote(store, id)).toBe('set by the guard');
  });

  it('is neither an enumerable key nor part of what the store keeps', async () => {
    const seen: Seen = { guarded: 0, wrote: [], keys: [], enumerable: undefined };
    const { app, store } = appWith(seen, (s) => {
      s.note = 'x';
    });
    const agent = request.agent(app);
    const { id } = (await agent.get('/start').expect(200)).body as { id: string };
    await agent.get('/guarded').expect(200);
    expect(seen.enumerable).toBe(false);
    expect(seen.keys).not.toContain('save');
    const raw = (store as unknown as { sessions: Record<string, string> }).sessions[id] ?? '';
    expect(Object.keys(JSON.parse(raw) as object).sort()).toEqual(['cookie', 'note']);
  });

  it("also sees the app's own req.session.save(), and a request that changes nothing saves nothing", async () => {
    const seen: Seen = { guarded: 0, wrote: [], keys: [], enumerable: undefined };
    const { app } = appWith(
      seen,
      (s) => new Promise<void>((resolve, reject) => s.save((err) => (err ? reject(err as Error) : resolve()))),
    );
    const agent = request.agent(app);
    await agent.get('/start').expect(200);
    await agent.get('/guarded').expect(200);
    // The app's explicit save went through the guard; express-session then saw the session as saved.
    expect(seen.guarded).toBe(1);

    const quiet: Seen = { guarded: 0, wrote: [], keys: [], enumerable: undefined };
    const second = appWith(quiet, () => undefined);
    const other = request.agent(second.app);
    await other.get('/start').expect(200);
    await other.get('/guarded').expect(200);
    expect(quiet.guarded).toBe(0);
  });

  it('leaves a session replaced by regenerate() without the guard', async () => {
    const seen: Seen = { guarded: 0, wrote: [], keys: [], enumerable: undefined };
    const { app } = appWith(
      seen,
      (s) =>
        new Promise<void>((resolve, reject) =>
          s.regenerate((err) => {
            if (err) return reject(err as Error);
            resolve();
          }),
        ),
    );
    const agent = request.agent(app);
    await agent.get('/start').expect(200);
    await agent.get('/guarded').expect(200);
    expect(seen.guarded).toBe(0);
  });
});
