/**
 * The KMS client and the commands the vault uses, in a module of their own so that
 * shared/aws/run-dispatcher.ts loads them with `import()` on the first seal or unwrap: in a
 * bundle they are a chunk a cold start does not load (infra/cdk/bundling.ts). Static named
 * re-exports, so the bundle keeps only these of the package.
 */
export { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
