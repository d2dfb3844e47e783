/**
 * @agent-vault/client: a typed client for agent-vault (clients/typescript/README.md).
 *
 *   import { VaultClient, VaultError } from '@agent-vault/client';
 *   const vault = new VaultClient({ baseUrl: 'http://127.0.0.1:3000', apiKey: process.env.AGENT_VAULT_API_KEY });
 */
export {
  type CallOptions,
  type ClientOptions,
  type ProxyRequest,
  type RequestParts,
  type RetryInfo,
  type RetryOptions,
  VaultClient,
  parseRetryAfter,
  retryDelayMs,
} from './client.ts';
export { type TransportFailure, type UnknownField, VaultConnectionError, VaultError } from './errors.ts';
export { type Method, OPERATIONS } from './operations.ts';
export {
  type GrantProxyRequest,
  type ProxyResponse,
  type RunAnswer,
  type RunContext,
  type RunPayload,
  type RunnerHandlerOptions,
  RunFailure,
  SIGNATURE_HEADER,
  answerRunnerCall,
  createRunnerHandler,
  nodeRunnerListener,
  signWebhook,
  verifyWebhookSignature,
} from './runner.ts';
export type { components, operations, paths } from './schema.d.ts';
export type {
  ErrorBodyOf,
  ErrorCode,
  ErrorCodeOf,
  OperationId,
  PageItem,
  PathParams,
  QueryParams,
  RequestBody,
  ResponseBody,
  Schema,
} from './types.ts';
