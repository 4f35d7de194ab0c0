// These tests compare save functions by identity (toBe); none is ever called detached from its session.
/* eslint-disable @typescript-eslint/unbound-method */
import type { Session } from 'express-session';
import { ownSave, shadowSave } from '../lib/session/save';

/** A stand-in with express-session's shape: `save` on the prototype. */
class FakeSession {
  save(cb?: (err?: unknown) => void): this {
    cb?.();
    return this;
  }
}

function guardSave(this: Session, cb?: (err?: unknown) => void): Session {
  cb?.();
  return this;
}

describe('shadowSave / ownSave', () => {
  it('puts the guard in front as a non-enumerable property and finds the prototype save behind it', () => {
    const session = new FakeSession() as unknown as Session;
    shadowSave(session, guardSave);
    expect(session.save).toBe(guardSave);
    expect(Object.keys(session)).toEqual([]);
    expect(JSON.stringify(session)).toBe('{}');
    expect(ownSave(session)).toBe(FakeSession.prototype.save);
  });

  it('is a no-op the second time', () => {
    const session = new FakeSession() as unknown as Session;
    shadowSave(session, guardSave);
    shadowSave(session, guardSave);
    expect(ownSave(session)).toBe(FakeSession.prototype.save);
  });

  it("keeps a save another library had already shadowed, and calls it as the session's own", () => {
    const session = new FakeSession() as unknown as Session;
    const theirs = function (this: Session) {
      return this;
    } as unknown as Session['save'];
    Object.defineProperty(session, 'save', { value: theirs, configurable: true, writable: true });
    shadowSave(session, guardSave);
    expect(session.save).toBe(guardSave);
    expect(ownSave(session)).toBe(theirs);
  });
});
