/**
 * The Lambda client and the one command the vault uses (an asynchronous invoke), in a module of
 * their own so that the run and webhook dispatchers (shared/aws/run-dispatcher.ts,
 * shared/aws/webhook-dispatcher.ts) load them with `import()` on their first dispatch: in a
 * bundle they are a chunk a cold start does not load (infra/cdk/bundling.ts). Static named
 * re-exports, so the bundle keeps only these of the package.
 */
export { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
