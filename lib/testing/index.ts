export { startFakeWps } from './fake-wps';
export type {
  FakeFault,
  FakeTokenPair,
  FakeWps,
  FakeWpsOptions,
  FakeWpsRuntimeOptions,
  FakeWpsUser,
  RecordedRequest,
} from './fake-wps';
export { createTestClock, type TestClock } from './test-clock';
export { expireAccessToken } from './expire';
export {
  sendWpsChallenge,
  sendWpsEvent,
  signWpsEvent,
  type SignedWpsEvent,
  type WpsEventCredentials,
  type WpsEventReply,
  type WpsEventToSend,
} from './send-event';
