// Compile-time tests, checked by `tsc --noEmit` (part of `npm test`); Jest does not run this file.
import { expectTypeOf } from 'expect-type';
import type { Request, RequestHandler } from 'express';
import { createClient } from 'redis';
import {
  redisEventDedupe,
  wpsEvents,
  wpsTenants,
  type WpsEvent,
  type WpsEventDedupe,
  type WpsEventHandler,
  type WpsEventsOptions,
} from '../../lib';

interface ChatMessage {
  chat_id: string;
  text: string;
}
interface Visibility {
  company_id: string;
  app_id: string;
}
type Topics = { 'kso.app_chat.message': ChatMessage; 'kso.developer.application.subject': Visibility };

// Declared topics: each handler's event is typed by its topic.
expectTypeOf(
  wpsEvents<Topics>({
    on: {
      'kso.app_chat.message': async (event, req) => {
        expectTypeOf(event.data).toEqualTypeOf<ChatMessage>();
        expectTypeOf(event.topic).toEqualTypeOf<'kso.app_chat.message'>();
        expectTypeOf(event.time).toEqualTypeOf<Date>();
        expectTypeOf(event.operation).toEqualTypeOf<string>();
        expectTypeOf(req).toEqualTypeOf<Request>();
        await Promise.resolve(event.data.text);
      },
      'kso.developer.application.subject': (event) => {
        expectTypeOf(event.data).toEqualTypeOf<Visibility>();
      },
    },
    onEvent: (event) => {
      // Every verified event: the declared ones, and any other topic with unknown data.
      expectTypeOf(event).toEqualTypeOf<
        | WpsEvent<'kso.app_chat.message', ChatMessage>
        | WpsEvent<'kso.developer.application.subject', Visibility>
        | WpsEvent
      >();
    },
  }),
).toEqualTypeOf<RequestHandler>();

wpsEvents<Topics>({
  on: {
    // @ts-expect-error a topic that was not declared (a typo)
    'kso.app_chat.mesage': () => {},
  },
});

wpsEvents<Topics>({
  on: {
    // @ts-expect-error the payload of this topic is a ChatMessage
    'kso.app_chat.message': (event: WpsEvent<'kso.app_chat.message', Visibility>) => event.nonce,
  },
});

// Without declared topics: any topic, data unknown.
wpsEvents({
  on: {
    'kso.app_chat.message': (event) => {
      expectTypeOf(event.data).toEqualTypeOf<unknown>();
      expectTypeOf(event.topic).toExtend<string>();
    },
  },
  onEvent: (event) => {
    expectTypeOf(event.data).toEqualTypeOf<unknown>();
  },
});
wpsEvents();
wpsEvents({});

// Handlers may return whatever they happen to return, or a promise of it.
const seen: WpsEvent[] = [];
wpsEvents({ on: { 'a.b': (event) => seen.push(event) }, onEvent: async () => {} });
wpsEvents<{ 'a.b': number }>({ on: { 'a.b': (event) => Promise.resolve(event.data + 1) } });

// Every option, and undefined for each (apps compile with exactOptionalPropertyTypes).
const options: Required<WpsEventsOptions> = {
  clientId: 'id',
  clientSecret: 'secret',
  on: {},
  onEvent: () => {},
  maxAgeSeconds: 300,
  ackTimeoutMs: 2500,
  maxBodyBytes: 1024 * 1024,
  dedupe: redisEventDedupe(createClient()),
  logger: console,
  clock: { now: () => Date.now() },
  tenants: wpsTenants(),
};
wpsEvents(options);
expectTypeOf<WpsEventsOptions['maxAgeSeconds']>().toEqualTypeOf<number | undefined>();
expectTypeOf<WpsEventsOptions['dedupe']>().toEqualTypeOf<WpsEventDedupe | undefined>();

// @ts-expect-error unknown option
wpsEvents({ onEvents: () => {} });
// @ts-expect-error a number of seconds
wpsEvents({ maxAgeSeconds: '300' });
// @ts-expect-error a dedupe needs claim and release
wpsEvents({ dedupe: { claim: () => Promise.resolve(true) } });

// A dedupe of one's own.
const own: WpsEventDedupe = { claim: () => Promise.resolve(true), release: () => Promise.resolve() };
wpsEvents({ dedupe: own });
// @ts-expect-error claim resolves with a boolean
const badDedupe: WpsEventDedupe = { claim: () => Promise.resolve('yes'), release: () => Promise.resolve() };

// redisEventDedupe takes a node-redis client (single node or cluster) and its options.
redisEventDedupe(createClient(), { prefix: 'app:events:', commandTimeoutMs: 500 });
redisEventDedupe(createClient(), { prefix: undefined, commandTimeoutMs: undefined });
// @ts-expect-error not a Redis client
redisEventDedupe({ get: () => Promise.resolve(null) });

expectTypeOf<WpsEventHandler<WpsEvent>>().parameters.toEqualTypeOf<[WpsEvent, Request]>();
expectTypeOf(badDedupe).toEqualTypeOf<WpsEventDedupe>();

// Under exactOptionalPropertyTypes (tsconfig.json), every option also takes an explicit `undefined`.
const maybe = <T>(value: T): T | undefined => value;
wpsEvents({
  clientId: maybe('id'),
  clientSecret: maybe('secret'),
  on: maybe({}),
  onEvent: maybe(() => {}),
  maxAgeSeconds: maybe(300),
  ackTimeoutMs: maybe(2500),
  maxBodyBytes: maybe(1024),
  logger: maybe(console),
  dedupe: maybe(redisEventDedupe(createClient(), { prefix: maybe('p:'), commandTimeoutMs: maybe(500) })),
  clock: maybe({ now: () => Date.now() }),
});
