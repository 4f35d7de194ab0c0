import { createMemoryEventDedupe } from '../../lib/events/dedupe';
import { createTestClock } from '../../lib/testing';

describe('the in-process event dedupe', () => {
  it('remembers a key for its TTL, then forgets it', async () => {
    const clock = createTestClock();
    const dedupe = createMemoryEventDedupe(clock);
    expect(await dedupe.claim('a', 1000)).toBe(true);
    expect(await dedupe.claim('a', 1000)).toBe(false);
    clock.advance(900);
    expect(await dedupe.claim('a', 1000)).toBe(false);
    clock.advance(101);
    expect(await dedupe.claim('a', 1000)).toBe(true);
    await dedupe.release('a');
    expect(await dedupe.claim('a', 1000)).toBe(true);
  });

  it('is bounded: when full, the oldest live key goes first, and the eviction is reported', async () => {
    const clock = createTestClock();
    let evicted = 0;
    const dedupe = createMemoryEventDedupe(clock, 3, () => evicted++);
    for (const key of ['a', 'b', 'c', 'd']) expect(await dedupe.claim(key, 60_000)).toBe(true);
    expect(evicted).toBe(1);
    // 'a' was forgotten early; 'b', 'c' and 'd' are still there ('a' now pushes 'b' out).
    expect(await dedupe.claim('a', 60_000)).toBe(true);
    expect([await dedupe.claim('c', 60_000), await dedupe.claim('d', 60_000)]).toEqual([false, false]);
    expect(evicted).toBe(2);
    // Expired keys make room without counting as evictions.
    clock.advance(60_001);
    for (const key of ['x', 'y', 'z']) expect(await dedupe.claim(key, 60_000)).toBe(true);
    expect(evicted).toBe(2);
  });
});
