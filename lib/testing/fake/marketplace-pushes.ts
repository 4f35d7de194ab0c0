import { postJson, signWpsEvent } from '../send-event';
import type { FakePush } from './marketplace-state';
import type { FakeState } from './state';

/**
 * Push one event as WPS does (signed and encrypted with the fake's APPID and APPKEY, timed by the fake's clock) to
 * the next event URL, in turn; `lose` (or no URL) records it without sending it.
 */
export function pushEvent(state: FakeState, topic: string, operation: string, data: object, lose = false): FakePush {
  const market = state.marketplace;
  const time = Math.floor(state.now() / 1000);
  const body = signWpsEvent({ topic, operation, data, time }, state.settings);
  const urls = market.eventUrls;
  const url = lose || urls.length === 0 ? undefined : urls[market.nextUrl++ % urls.length];
  const answered = url === undefined ? Promise.resolve(undefined) : postJson(url, body).catch(() => undefined);
  const push: FakePush = { topic, operation, url, body, answered };
  market.pushes.push(push);
  return push;
}

/** Push the newest ticket (`kso.app.ticket`, `update`). */
export function pushTicket(state: FakeState, lose = false): FakePush {
  const data = { app_id: state.settings.clientId, app_ticket: state.marketplace.ticket };
  return pushEvent(state, 'kso.app.ticket', 'update', data, lose);
}
