import { createRequire } from 'node:module';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readDeployConfig, type VaultDeployConfig } from './config.ts';
import { VaultStack } from './vault-stack.ts';

/**
 * The feature flags `cdk init` would write into cdk.json for this aws-cdk-lib, applied in code
 * so that `cdk synth` and the tests build the same template. cdk.json or `-c` can still override
 * any of them (CLI context wins over App context).
 */
const RECOMMENDED_FEATURE_FLAGS = createRequire(import.meta.url)('aws-cdk-lib/recommended-feature-flags.json') as Record<string, unknown>;

/** Options of createVaultApp. */
export interface CreateVaultAppOptions {
  /** Extra context (tests: deployment settings, `aws:cdk:bundling-stacks`). */
  readonly context?: Readonly<Record<string, unknown>>;
  /** Run cdk-nag's AwsSolutions pack at synthesis (default true: a finding fails the synth). */
  readonly nag?: boolean;
  /** Cloud assembly directory (default: the CLI's, or a temporary one). */
  readonly outdir?: string;
}

/**
 * Builds the CDK app: the deployment settings from context, the `AgentVault-<stage>` stack, and
 * the cdk-nag AwsSolutions checks. `infra/cdk/app.ts` (the `cdk` entry point) and the infra
 * tests both start here.
 */
export function createVaultApp(options: CreateVaultAppOptions = {}): { app: App; stack: VaultStack; config: VaultDeployConfig } {
  const app = new App({
    context: { ...RECOMMENDED_FEATURE_FLAGS, ...options.context },
    ...(options.outdir ? { outdir: options.outdir } : {}),
  });
  const config = readDeployConfig(app.node);
  // Environment-agnostic on purpose: nothing needs a lookup, the same template deploys to
  // whichever account and region the CLI targets, and an offline synth bakes in no guess.
  const stack = new VaultStack(app, `AgentVault-${config.stage}`, { config });
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, config };
}
