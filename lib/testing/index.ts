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
