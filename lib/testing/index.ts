export { startFakeWps } from './fake';
export type {
  FakeCompanyState,
  FakeFault,
  FakeMarketplace,
  FakeMarketplaceCompany,
  FakeMarketplaceOptions,
  FakePush,
  FakeSignIn,
  FakeTokenPair,
  FakeWps,
  FakeWpsOptions,
  FakeWpsRuntimeOptions,
  FakeWpsUser,
  RecordedRequest,
} from './fake';
export { createTestClock, type TestClock } from './test-clock';
export { expireAccessToken } from './expire';
export {
  expireAgentAccessToken,
  signedInAgent,
  type AgentCookieAccess,
  type AgentLike,
  type AgentPostRequest,
  type AgentRequest,
  type AgentResponse,
  type SignedInAgentOptions,
} from './signed-in-agent';
export {
  sendWpsChallenge,
  sendWpsEvent,
  signWpsEvent,
  type SignedWpsEvent,
  type WpsEventCredentials,
  type WpsEventReply,
  type WpsEventToSend,
} from './send-event';
