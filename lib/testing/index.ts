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
