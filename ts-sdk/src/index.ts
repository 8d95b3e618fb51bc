/** `@farlabs/sdk`: the TypeScript SDK of Far Mesh. */

export { FarMesh } from './client.js';
export { ChatStream } from './core/streaming.js';
export {
  APIConnectionError,
  APIStatusError,
  APITimeoutError,
  APIUserAbortError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  ContextLengthExceededError,
  FarLabsError,
  GatewayTimeoutError,
  InternalServerError,
  NotFoundError,
  OverloadedError,
  PermissionDeniedError,
  RateLimitError,
  StreamInterruptedError,
  type TimeoutKind,
} from './core/errors.js';
export { ChatSession } from './chat-session.js';
export type { ChatSessionOptions, ChatSessionState, ChatStatus, UIMessage } from './chat-session.js';
export { Models } from './resources/models.js';
export {
  Provider,
  type NodeHardware,
  type ProviderData,
  type ProviderEarnings,
  type ProviderNode,
  type ProviderNodes,
  type ProviderPayment,
  type ProviderPayments,
  type ProviderStats,
} from './resources/provider.js';
export type * from './types.js';
export { VERSION } from './version.js';
