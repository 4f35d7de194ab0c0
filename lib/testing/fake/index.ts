export { startFakeWps, type FakeWps } from './start';
export type { FakeWpsOptions, FakeWpsRuntimeOptions, FakeWpsUser } from './options';
export type { FakeFault } from './faults';
export { FAKE_SIGN_IN_HEADER, type FakeSignIn } from './sign-ins';
export type { FakeTokenPair } from './issue';
export type { RecordedRequest } from './server';
export type { FakeMarketplace } from './marketplace-handle';
export type { FakeCompanyState, FakeMarketplaceCompany, FakeMarketplaceOptions, FakePush } from './marketplace-state';
