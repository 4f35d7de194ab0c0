import { randomUUID } from 'node:crypto';
import { WpsTenantError } from '../errors';
import type { WpsLogger } from '../types';
import { ticketDigest, type TenantsAtRest } from './at-rest';
import { pollDelay, type StoreKeeper } from './store-keeper';
import type { TicketPusher } from './ticket-push';

/** What the ticket keeper needs, resolved once. Internal. */
export interface TicketDeps {
  store: StoreKeeper;
  atRest: TenantsAtRest;
  pusher: TicketPusher;
  log: WpsLogger;
  ticketWaitMs: number;
}

/** How long a ticket is kept: WPS pushes new ones on its own schedule, and a missing one is asked for again. */
export const TICKET_TTL_MS = 24 * 60 * 60 * 1000;
/** At most one `ticket/active` per reason (no ticket; each stale ticket) in this time, across instances. */
export const ASK_INTERVAL_MS = 60 * 1000;

const SUBSCRIBE =
  "WPS pushes it to the app's event URL as kso.app.ticket: mount wpsEvents({ tenants }) there, make sure WPS can " +
  'reach it, and subscribe the URL to kso.app.ticket (developer console → 事件与回调)';

/**
 * The newest app ticket, shared through the store: stored when WPS pushes one, asked for when there is none or when
 * WPS refused the stored one, and waited for — whichever instance the push reaches. Asking is a claim in the store
 * first (`ask:none`, or `ask:<digest of the stale ticket>`, each for a minute), so that of all the callers of all
 * the instances, one calls `POST /oauth2/ticket/active` and the others wait for the push. Internal.
 */
export class TicketKeeper {
  /** Wake-ups of the callers waiting in this process, run when this process stores a ticket. */
  private readonly arrivals = new Set<() => void>();
  /** One wait per reason in this process: the callers join it. */
  private readonly obtaining = new Map<string, Promise<string>>();

  constructor(private readonly d: TicketDeps) {}

  /** The newest stored ticket, or `undefined`. */
  async newest(): Promise<string | undefined> {
    const stored = await this.d.store.run((s) => s.getTicket());
    return this.d.atRest.openTicket(stored?.value);
  }

  /** Store a ticket WPS pushed (unless a later one is stored), and wake the callers waiting here. */
  async keep(ticket: string, time: Date): Promise<void> {
    const seconds = Math.floor(time.getTime() / 1000);
    const sealed = this.d.atRest.closeTicket(ticket);
    const stored = await this.d.store.run((s) => s.putTicket(sealed, seconds, TICKET_TTL_MS));
    this.d.log.info(stored ? 'app ticket stored' : 'app ticket ignored: a later one is stored');
    for (const wake of this.arrivals) wake();
  }

  /** The ticket to use: the stored one, else (cold start) one asked for and waited for. */
  async current(): Promise<string> {
    return (await this.newest()) ?? this.obtain(undefined);
  }

  /** A ticket other than `stale`, which WPS refused: the stored one if it changed, else one asked for and waited for. */
  newerThan(stale: string): Promise<string> {
    return this.obtain(stale);
  }

  private obtain(stale: string | undefined): Promise<string> {
    const reason = stale === undefined ? 'none' : ticketDigest(stale);
    let pending = this.obtaining.get(reason);
    if (pending === undefined) {
      pending = this.obtainOnce(stale).finally(() => this.obtaining.delete(reason));
      this.obtaining.set(reason, pending);
    }
    return pending;
  }

  private async obtainOnce(stale: string | undefined): Promise<string> {
    const deadline = Date.now() + this.d.ticketWaitMs;
    const found = await this.newest();
    if (found !== undefined && found !== stale) return found;
    await this.ask(stale);
    const ticket = await this.waitFor(stale, deadline);
    if (ticket !== undefined) return ticket;
    const ms = this.d.ticketWaitMs;
    throw new WpsTenantError(
      'ticket_unavailable',
      stale === undefined
        ? `no app ticket arrived within ticketWaitMs (${ms} ms). ${SUBSCRIBE}`
        : `WPS refused the stored app ticket, and no newer one arrived within ticketWaitMs (${ms} ms) of asking ` +
            `for a push. ${SUBSCRIBE}`,
    );
  }

  /** Ask WPS for a push, unless another caller (of any instance) did for the same reason within a minute. */
  private async ask(stale: string | undefined): Promise<void> {
    const key = stale === undefined ? 'ask:none' : `ask:${ticketDigest(stale)}`;
    if (!(await this.d.store.run((s) => s.claim(key, randomUUID(), ASK_INTERVAL_MS)))) {
      this.d.log.debug('an app ticket push was asked for already: waiting for it');
      return;
    }
    this.d.log.info(
      stale === undefined
        ? 'no app ticket yet: asking WPS to push one (POST /oauth2/ticket/active)'
        : 'asking WPS to push a new app ticket (POST /oauth2/ticket/active)',
    );
    await this.d.pusher.request();
  }

  /** Poll the store (and wake at once when this process stores a ticket) for one other than `stale`. */
  private async waitFor(stale: string | undefined, deadline: number): Promise<string | undefined> {
    for (;;) {
      const ticket = await this.newest();
      if (ticket !== undefined && ticket !== stale) return ticket;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await this.nextArrival(left);
    }
  }

  /** Resolves after one poll interval (at most `maxMs`), or as soon as this process stores a ticket. */
  private nextArrival(maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.arrivals.delete(wake);
        resolve();
      };
      this.arrivals.add(wake);
      void pollDelay(maxMs).then(wake);
    });
  }
}
