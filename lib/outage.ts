import { reasonOf } from './errors';
import type { WpsLogger } from './types';

/**
 * The state of a shared service (the refresh lock, the event dedupe) as this process sees it: an outage is logged
 * once when it starts and once when it ends, never per request.
 */
export class Outage {
  private down = false;

  constructor(
    private readonly log: WpsLogger,
    private readonly downMessage: string,
    private readonly upMessage: string,
  ) {}

  /** The service answered. */
  up(): void {
    if (!this.down) return;
    this.down = false;
    this.log.info(this.upMessage);
  }

  /** The service failed with `err`. */
  failed(err: unknown): void {
    if (this.down) return;
    this.down = true;
    this.log.error(this.downMessage, { reason: reasonOf(err) });
  }
}
