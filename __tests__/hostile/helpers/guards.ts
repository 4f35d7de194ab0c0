import { runInThisContext } from 'node:vm';

/**
 * The real `process`. Jest hands each test file a copy whose `on()` never hears of the process's events, so a
 * listener meant to see unhandled rejections must be put on the original.
 */
export const realProcess = runInThisContext('process') as NodeJS.Process;

/** Records every unhandled rejection and uncaught exception of the process until `stop()`. */
export interface CrashWatch {
  /** Reasons of unhandled rejections, in order. */
  rejections: unknown[];
  /** Uncaught exceptions, in order. */
  exceptions: unknown[];
  /** Whether both listeners are on the real process right now. */
  listening(): boolean;
  stop(): void;
}

/** Start recording unhandled rejections and uncaught exceptions on the real process. Call in `beforeAll`. */
export function watchForCrashes(): CrashWatch {
  const rejections: unknown[] = [];
  const exceptions: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  const onException = (err: unknown) => exceptions.push(err);
  realProcess.on('unhandledRejection', onRejection);
  realProcess.on('uncaughtException', onException);
  return {
    rejections,
    exceptions,
    listening: () =>
      realProcess.listeners('unhandledRejection').includes(onRejection) &&
      realProcess.listeners('uncaughtException').includes(onException),
    stop: () => {
      realProcess.off('unhandledRejection', onRejection);
      realProcess.off('uncaughtException', onException);
    },
  };
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `probe` every 10 ms until it returns true or `ms` pass; resolves with its last answer. */
export async function eventually(probe: () => boolean, ms = 2000): Promise<boolean> {
  const until = Date.now() + ms;
  while (!probe() && Date.now() < until) await sleep(10);
  return probe();
}
