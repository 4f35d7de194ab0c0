/**
 * The fake's pending timers (token latency, delay and drip faults), kept in one place so `close()` stops them all
 * and no test process is held open by a fake it already closed.
 */
export class FakeTimers {
  private readonly pending = new Set<NodeJS.Timeout>();

  /** Resolves after `ms` (at once for 0 or less); never resolves once `stopAll()` ran. */
  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        resolve();
      }, ms);
      this.pending.add(timer);
    });
  }

  /** Calls `tick` every `intervalMs` until `stop(timer)` or `stopAll()`. */
  every(intervalMs: number, tick: () => void): NodeJS.Timeout {
    const timer = setInterval(tick, intervalMs);
    this.pending.add(timer);
    return timer;
  }

  /** Stops one timer from `every()`. */
  stop(timer: NodeJS.Timeout): void {
    clearInterval(timer);
    this.pending.delete(timer);
  }

  /** Stops every pending timer, for `close()`. */
  stopAll(): void {
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }
}
